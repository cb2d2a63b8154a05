"""What the demo shows in its first two minutes, read through the API of the same running
demo the pages are tested on: an incident explained within a minute, one healed by a fix
the telemetry verified and one escalated within two, and the owner told of the escalated
one in the app and by email."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Demo, NewPage


def _incidents(demo: Demo) -> list[dict[str, Any]]:
    with demo.client(demo.service_token) as client:
        found: list[dict[str, Any]] = client.get("/incidents").json()
        return found


def _until(demo: Demo, seconds_in: float) -> float:
    """What is left of the demo's first ``seconds_in`` seconds (at least a moment)."""
    return max(1.0, seconds_in - demo.seconds_in())


def test_the_first_incident_appears_on_the_open_list_by_itself(
    demo: Demo, new_page: NewPage
) -> None:
    """The service dashboard, open from the demo's start: the first incidents arrive while
    it is open and show up without a reload (this module runs first in the package)."""
    page = new_page()
    page.goto(demo.info["dashboard_url"])
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("location.hash = '#/incidents'")
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    known = {i["id"] for i in _incidents(demo)}
    newest = demo.wait_for(
        lambda: next((i for i in _incidents(demo) if i["id"] not in known), None),
        _until(demo, 150),
    )
    assert newest, f"no incident opened after the page loaded (known: {sorted(known)})"
    expect(page.locator(f'[data-incident="{newest["id"]}"]')).to_be_visible(timeout=15_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_an_incident_explained_within_a_minute(demo: Demo) -> None:
    """An empty incident table looks broken: the first fault needs no learned baseline
    and is explained in words a service engineer can act on."""
    incidents = demo.wait_for(lambda: _incidents(demo), _until(demo, 60))
    assert incidents, "no incident within the demo's first minute"
    explanation = incidents[-1]["explanation"]
    assert explanation["summary"]
    assert explanation["next_step"]


def test_one_healed_and_one_escalated_within_two_minutes(demo: Demo) -> None:
    def both() -> dict[str, list[dict[str, Any]]] | None:
        found: dict[str, list[dict[str, Any]]] = {}
        for incident in _incidents(demo):
            found.setdefault(incident["status"], []).append(incident)
        healed = [i for i in found.get("resolved", []) if i["fix_attempts"][-1]["verified"]]
        return found if healed and found.get("escalated") else None

    statuses = demo.wait_for(both, _until(demo, 120))
    assert statuses, f"no verified heal and no escalation within two minutes: {_incidents(demo)}"
    escalated = statuses["escalated"][0]
    assert escalated["escalation"]
    assert escalated["fix_attempts"], "escalated with the attempts made"


def test_the_owner_hears_of_the_escalation_in_the_app_and_by_email(demo: Demo) -> None:
    def inbox() -> list[dict[str, Any]]:
        with demo.client(demo.owner_token) as client:
            items: list[dict[str, Any]] = client.get("/outreach").json()
            return items

    items = demo.wait_for(inbox, _until(demo, 135))
    assert items, "the owner heard of nothing within the first minutes"
    first = min(items, key=lambda i: i["id"])
    assert first["kind"] == "incident_escalated", items
    assert first["slots"], "a visit is offered"
    mail = demo.wait_for(lambda: demo.mailbox.messages, _until(demo, 140))
    assert mail, "no outreach email arrived"
    assert mail[0]["To"] == "owner@demo.example"
