"""The manufacturer view: simulation runs recorded by ``aftercare sim run --api`` appear
live, newest first, passed or failed, and each expectation says in words what held or
what failed, with the devices involved and the amounts.

The runs are real: a tiny scenario runs as a subprocess against the demo's broker and
cloud (its devices carry a ``lab-`` prefix so they never take a demo device's id). The
failing run points its fleet at a port where no broker listens: nothing connects and
nothing is acknowledged, which is what its expectations then say.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, PHONE, Demo, NewPage

TINY = """\
name: {name}
fleet: {{devices: 2, seed: 5, telemetry_interval_s: 60, id_prefix: lab-}}
duration_s: 240
speed: 100
expect: {{all_connected: true, max_unacknowledged_samples: 0, drain_timeout_s: {drain}}}
"""


def sim_run(demo: Demo, scenario: Path, mqtt_url: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cloud.cli", "sim", "run", str(scenario)]
    command += ["--mqtt-url", mqtt_url, "--api", demo.api]
    command += ["--token", demo.info["manufacturer_token"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    return subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def screenshots() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fits_the_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_runs_appear_live_and_say_what_held_and_what_failed(
    demo: Demo, new_page: NewPage, tmp_path: Path
) -> None:
    page = new_page()
    page.goto(demo.root + "/manufacturer#token=" + demo.info["manufacturer_token"])
    expect(page.get_by_text("No simulation runs yet")).to_be_visible()
    page.screenshot(path=str(screenshots() / "manufacturer-empty.png"), full_page=True)
    expect(page.locator("#live")).to_have_text("live")
    assert "token" not in page.url

    passing = tmp_path / "lab-smoke.yaml"
    passing.write_text(TINY.format(name="lab smoke", drain=20))
    done = sim_run(demo, passing, demo.info["mqtt_url"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout
    assert "recorded as simulation run" in done.stdout

    runs = page.get_by_role("list").first
    smoke = runs.get_by_role("listitem").filter(has_text="lab smoke")
    expect(smoke).to_contain_text("Passed")
    expect(smoke).to_contain_text("2 of 2 expectations held")
    expect(smoke).to_contain_text("2 devices")
    smoke.get_by_role("button", name="lab smoke").click()
    detail = page.locator("#detail")
    expect(detail.get_by_role("heading", name="lab smoke")).to_be_focused()
    expect(detail).to_contain_text("Every expectation of this scenario held.")
    expect(detail).to_contain_text("all 2 devices connected to the broker")
    expect(detail).to_contain_text("the cloud acknowledged every one of the")
    expect(detail).to_contain_text("lab-smoke.yaml")

    failing = tmp_path / "lab-offline.yaml"
    failing.write_text(TINY.format(name="lab offline", drain=1))
    done = sim_run(demo, failing, f"mqtt://127.0.0.1:{closed_port()}")
    assert done.returncode == 1, "a failed expectation is exit 1, recorded or not"
    assert "recorded as simulation run" in done.stdout, done.stderr

    first = runs.get_by_role("listitem").first
    expect(first).to_contain_text("lab offline")  # newest first
    expect(first).to_contain_text("Failed")
    expect(first).to_contain_text("0 of 2 expectations held")
    expect(page.locator("#totals")).to_have_text("2 runs: 1 passed, 1 failed")
    first.get_by_role("button", name="lab offline").click()
    expect(detail).to_contain_text("2 expectations did not hold")
    connected = detail.get_by_role("listitem").filter(has_text="all_connected")
    expect(connected).to_contain_text("Failed")
    expect(connected).to_contain_text("none of the 2 devices connected to the broker")
    expect(connected).to_contain_text("measured 0 · limit 2")
    expect(connected).to_contain_text("lab-evcharger-ec11-00000")
    lost = detail.get_by_role("listitem").filter(has_text="max_unacknowledged_samples")
    expect(lost).to_contain_text(re.compile(r"were never acknowledged by the cloud, \d+ over"))

    page.get_by_label("Failed only").check()
    expect(runs.get_by_role("listitem").filter(has_text="lab smoke")).to_have_count(0)

    phone = new_page(viewport=PHONE)
    phone.goto(demo.root + "/manufacturer#token=" + demo.info["manufacturer_token"])
    phone.get_by_role("button", name="lab offline").click()
    expect(phone.locator("#detail")).to_contain_text("none of the 2 devices connected")
    assert fits_the_width(phone), "no sideways scrolling on a phone"
    phone.reload()  # the open run is in the address, the sign-in in the tab's session
    expect(phone.locator("#detail")).to_contain_text("none of the 2 devices connected")


def test_the_token_field_signs_in_and_an_owner_token_is_turned_away(
    demo: Demo, new_page: NewPage
) -> None:
    page = new_page(viewport=PHONE)
    page.goto(demo.root + "/manufacturer")
    field = page.get_by_label("Manufacturer token")
    expect(field).to_be_visible()
    page.screenshot(path=str(screenshots() / "manufacturer-sign-in-phone.png"), full_page=True)
    field.fill(demo.owner_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("may not see simulation runs")
    field.fill(demo.info["manufacturer_token"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Simulation runs")).to_be_visible()
    expect(page.locator("#live")).to_have_text("live")
    expect(page.get_by_role("alert")).to_be_hidden()
    assert fits_the_width(page)
