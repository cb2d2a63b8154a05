"""The service dashboard in a real browser against the running demo: the fleet, an
incident with its chart and fixes, live updates, phone width, keyboard use, verdicts and
signing in with a typed token."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from cloud.db.incidents import ACTIVE
from tests.browser.conftest import PHONE, Demo, NewPage

FAULT_WAIT_S = 150.0
"""Real faults in the demo: the first within about a minute, a verified fix within two."""


def _incidents(demo: Demo) -> list[dict[str, Any]]:
    with demo.client(demo.service_token) as client:
        found: list[dict[str, Any]] = client.get("/incidents", params={"limit": 200}).json()
        return found


def _with_a_fix(demo: Demo) -> dict[str, Any]:
    incident = demo.wait_for(
        lambda: next((i for i in _incidents(demo) if i["fix_attempts"]), None), FAULT_WAIT_S
    )
    assert incident, "no incident with a fix attempt in the demo"
    return dict(incident)


def _open(page: Page, demo: Demo, route: str = "") -> None:
    page.goto(demo.info["dashboard_url"])
    expect(page.locator("#live")).to_have_text("live")
    if route:
        page.evaluate("route => { location.hash = route }", route)


def test_the_fleet_and_an_incident_with_its_chart_and_fix_attempts(
    demo: Demo, new_page: NewPage
) -> None:
    incident = _with_a_fix(demo)
    page = new_page()
    _open(page, demo)
    expect(page.get_by_role("heading", name="Fleet health")).to_be_visible()
    online = page.locator("#online-count")
    expect(online).not_to_have_text("0")
    assert int(online.inner_text()) > 0
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()

    page.get_by_role("link", name="Incidents", exact=True).click()
    link = page.get_by_role("link", name=f"Incident {incident['id']}:")
    link.click()
    expect(page.get_by_role("heading", name=f"Incident {incident['id']}:")).to_be_visible()
    chart = page.locator("#incident-chart svg")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.chart-shade")).to_have_count(1)  # the anomaly window
    expect(chart.locator("line.chart-mark").first).to_be_attached()  # a fix sent
    expect(page.locator("#incident-chart figcaption")).to_contain_text("the fault (shaded)")
    attempts = page.locator("#fix-attempts li")
    expect(attempts.first).to_be_visible()
    expect(attempts.first).to_contain_text(" — ")
    expect(page.get_by_role("heading", name="What happened")).to_be_visible()


def test_an_incident_judged_elsewhere_changes_on_the_open_page(
    demo: Demo, new_page: NewPage
) -> None:
    """A colleague marks an incident a false alarm through the API: the list open in this
    browser shows the verdict (and, for an incident still open, its closing) by itself,
    without a reload."""
    incident = demo.wait_for(
        lambda: next((i for i in _incidents(demo) if not i["verdict"]), None), FAULT_WAIT_S
    )
    assert incident, "no incident without a verdict in the demo"
    page = new_page()
    _open(page, demo, "#/incidents")
    row = page.locator(f'[data-incident="{incident["id"]}"]')
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("false alarm")
    with demo.client(demo.service_token) as client:
        verdict = {"verdict": "false_positive", "note": "a colleague's call"}
        answer = client.post(f"/incidents/{incident['id']}/verdict", json=verdict)
        assert answer.status_code == 200, answer.text
    expect(row).to_contain_text("marked a false alarm", timeout=15_000)
    if incident["status"] in ACTIVE:
        expect(row).to_contain_text("resolved")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_every_view_fits_a_phone_without_sideways_scrolling(demo: Demo, new_page: NewPage) -> None:
    incident = _with_a_fix(demo)
    page = new_page(viewport=PHONE)
    _open(page, demo)
    views = {  # each view, and what shows once its data has loaded
        "#/fleet": "#devices ~ div tr, svg.chart",
        "#/incidents": "[data-incident]",
        f"#/incidents/{incident['id']}": "#incident-chart svg",
        "#/fixes": ".fix-row svg, #root .empty",
        "#/work": "#funnel .bars",
    }
    for route, loaded in views.items():
        page.evaluate("route => { location.hash = route }", route)
        expect(page.locator(loaded).first).to_be_visible()
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{route} scrolls sideways on a phone"


def test_an_incident_opens_with_the_keyboard(demo: Demo, new_page: NewPage) -> None:
    incident = _with_a_fix(demo)
    page = new_page()
    _open(page, demo, "#/incidents")
    expect(page.locator(f'[data-incident="{incident["id"]}"]')).to_be_visible()
    page.locator("#f-device").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('href') || ''")
        if focused.startswith("#/incidents/"):
            break
    else:
        raise AssertionError("Tab never reached an incident link")
    page.keyboard.press("Enter")
    number = focused.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name=f"Incident {number}:")).to_be_visible()
    assert page.url.endswith(f"#/incidents/{number}")


def test_a_verdict_is_saved_and_shown(demo: Demo, new_page: NewPage) -> None:
    incident = demo.wait_for(
        lambda: next((i for i in reversed(_incidents(demo)) if i["verdict"] is None), None),
        FAULT_WAIT_S,
    )
    assert incident
    page = new_page()
    _open(page, demo, f"#/incidents/{incident['id']}")
    expect(page.locator("#verdict-result")).to_have_text("No verdict yet.")
    page.get_by_label("Note (optional)").fill("seen on site")
    page.get_by_role("button", name="Confirm: a real fault").click()
    expect(page.locator("#verdict-result")).to_contain_text("Confirmed as a real fault")
    expect(page.locator("#verdict-result")).to_contain_text("seen on site")
    with demo.client(demo.service_token) as client:
        saved = client.get(f"/incidents/{incident['id']}").json()
    assert (saved["verdict"], saved["verdict_note"]) == ("confirmed", "seen on site")


def test_a_typed_service_token_signs_in_and_an_owner_token_is_refused(
    demo: Demo, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(demo.root + "/")
    page.get_by_label("Service token").fill(demo.owner_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a service token")
    page.get_by_label("Service token").fill(demo.service_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Fleet health")).to_be_visible()
    expect(page.locator("#live")).to_have_text("live")
