"""The owner app at /app in a real browser against the running demo: a new owner signs
up, adds a device with the code on its box and sets it up (the device's own self-checks
tick steps live once it is switched on); the demo owner answers a visit offer, asks for
help, hears back and rates how it went; every view fits a phone; devices read in plain
words, never as signatures."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE, Demo, DeviceAgents, NewPage

CLAIMED_HERE = 1
"""The index in demo.json's ``unclaimed`` this module claims (no other test claims it)."""
VIEWS = ("My devices", "Messages", "Add device", "Preferences")
SIGNATURE = re.compile(
    r"\b(overheat|sensor-stuck|sensor-drift|spike|memory-leak|connectivity|wear-out|anomaly)/"
)
PASSWORD = "a long enough password"


def tab(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Views").get_by_role(
        "link", name=re.compile("^" + name)
    ).click()


def fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_new_owner_signs_up_adds_a_device_by_its_code_and_sets_it_up(
    demo: Demo, new_page: NewPage, device_agents: DeviceAgents
) -> None:
    page = new_page(viewport=PHONE)
    page.goto(demo.root + "/app")
    signup = page.get_by_role("form", name="New here? Create an account")
    signup.get_by_label("Your email").fill(f"new-{uuid.uuid4().hex[:8]}@example.com")
    signup.get_by_label("Choose a password").fill(PASSWORD)
    signup.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("No devices yet.")).to_be_visible()
    assert fits(page)

    tab(page, "Add device")
    code = page.get_by_label("Code on the box")
    code.fill("AAAA-BBBB-CCCC-DDDD")
    page.get_by_role("button", name="Add device").click()
    expect(page.get_by_text("That code does not match any device")).to_be_visible()

    box = demo.info["unclaimed"][CLAIMED_HERE]
    device_id, model = box["device_id"], box["device_id"].rsplit("-", 1)[0]
    code.fill(box["claim_code"].lower())
    page.get_by_role("button", name="Add device").click()
    expect(page.get_by_text("added. Let's set it up")).to_be_visible()
    card = page.locator(f'article[data-device="{device_id}"]')
    network = card.locator('li[data-step="network"]')
    expect(network).to_have_attribute("data-state", "pending")
    expect(card.get_by_text("It has not been in touch yet")).to_be_visible()

    warranty = card.locator('li[data-step="warranty_registration"]')
    warranty.get_by_role("button", name="Mark as done").click()
    expect(warranty).to_have_attribute("data-state", "done")
    assert fits(page)

    device_agents.start(device_id, model)  # its first boot runs its self-checks
    expect(network).to_have_attribute("data-state", "done", timeout=60_000)
    expect(network).to_contain_text("Done")

    tab(page, "My devices")
    expect(page.locator(f'article[data-device="{device_id}"] .headline')).to_contain_text("Your ")


def test_the_demo_owner_answers_a_visit_offer(demo: Demo, new_page: NewPage) -> None:
    owner = demo.client(demo.owner_token)

    def offer() -> dict[str, Any] | None:
        items = owner.get("/outreach").json()
        return next((i for i in items if i["slots"] and i["status"] == "delivered"), None)

    item = demo.wait_for(offer, timeout_s=300)
    assert item is not None, "the demo owner was offered no visit within five minutes"
    page = new_page(viewport=PHONE)
    page.goto(demo.info["app_url"])
    tab(page, "Messages")
    card = page.locator(f'article[data-item="{item["id"]}"]')
    card.get_by_role("button", name=re.compile("^Book ")).first.click()
    expect(card).to_contain_text("Visit booked:")
    card.get_by_role("button", name="Change the time").click()
    expect(card).to_contain_text("You asked for another time")
    card.get_by_role("button", name="No thanks").click()
    expect(card).to_contain_text("You said no to this.")
    answers = owner.get(f"/outreach/{item['id']}").json()
    assert answers["status"] == "declined"
    assert fits(page)


def test_the_demo_owner_asks_for_help_hears_back_and_rates_it(
    demo: Demo, new_page: NewPage
) -> None:
    page = new_page(viewport=PHONE)
    page.goto(demo.info["app_url"])
    tab(page, "Messages")
    device_id = demo.info["owner_device_ids"][-1]
    words = f"It clicks loudly every few minutes ({uuid.uuid4().hex[:6]})."
    page.get_by_label("Device", exact=True).select_option(device_id)
    page.get_by_label("What is it about?").select_option("noise")
    page.get_by_label("What is happening?").fill(words)
    page.get_by_role("button", name="Send request").click()
    request = page.locator("article[data-request]", has_text=words)
    expect(request).to_be_visible()
    expect(request).to_contain_text("It makes a noise")

    service = demo.client(demo.service_token)
    owner = demo.client(demo.owner_token)
    request_id = int(request.get_attribute("data-request") or 0)
    ready = demo.wait_for(
        lambda: service.get(f"/support/{request_id}").json()["status"] != "collecting", 150
    )
    assert ready, "the request never got its diagnostics"
    reply = "Thanks: a fan blade rubs; we send a new one."
    assert service.post(f"/support/{request_id}/resolve", json={"text": reply}).status_code == 200
    expect(request).to_contain_text(reply)  # live, without a reload
    expect(request).to_contain_text("Resolved")

    def question() -> dict[str, Any] | None:
        items = owner.get("/outreach").json()
        return next(
            (i for i in items if i["kind"] == "feedback_question" and i["status"] == "delivered"),
            None,
        )

    item = demo.wait_for(question, timeout_s=120)
    assert item is not None, "no feedback question within two minutes of the resolution"
    card = page.locator(f'article[data-item="{item["id"]}"]')
    expect(card).to_contain_text("How did it go?")  # arrived live
    card.get_by_role("button", name="4 of 5").click()
    card.get_by_label("Anything to add?").fill("Quiet again, thank you.")
    card.get_by_role("button", name="Send").click()
    expect(card).to_contain_text("Thank you for your answer.")
    assert owner.get(f"/outreach/{item['id']}").json()["status"] == "answered"


def test_every_view_fits_a_phone_without_sideways_scrolling(demo: Demo, new_page: NewPage) -> None:
    page = new_page(viewport=PHONE)
    page.goto(demo.info["app_url"])
    expect(page.locator("#live")).to_have_text("Up to date")  # every view has loaded by then
    for name in VIEWS:
        tab(page, name)
        expect(page.get_by_role("link", name=re.compile("^" + name))).to_have_attribute(
            "aria-current", "page"
        )
        assert fits(page), f"{name} scrolls sideways at phone width"


def test_devices_read_in_plain_words(demo: Demo, new_page: NewPage) -> None:
    page = new_page(viewport=LAPTOP)
    page.goto(demo.info["app_url"])
    for device_id in demo.info["owner_device_ids"]:
        headline = page.locator(f'article[data-device="{device_id}"] .headline')
        expect(headline).to_contain_text(re.compile(r"^Your (heat pump|EV charger) "))
    text = page.locator("main").inner_text()
    assert not SIGNATURE.search(text), text
    assert "{day}" not in text
