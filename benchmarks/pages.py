"""How fast the pages are usable on the demo fleet: ``aftercare demo`` runs, Debian's
Chromium (driven by Playwright, never a downloaded browser) opens each view at laptop and
phone width, and the time from navigation to the view's content on screen is measured.

    python -m benchmarks.pages --devices 20 --warmup 90 --repeats 3

The views are measured once the demo has had ``--warmup`` seconds to fill up (incidents,
fixes, outreach). The last line: ``slowest_view_s=… median_view_s=… views=…``; the target
is every view under one second.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("AFTERCARE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

SERVICE_VIEWS = {  # route -> what is on screen once the view is usable (and an incident's)
    "fleet": ("#/fleet", "#devices ~ div tr, svg.chart"),
    "incidents": ("#/incidents", "[data-incident], #root .empty"),
    "fixes": ("#/fixes", ".fix-row svg, #root .empty"),
    "work": ("#/work", "#funnel .bars, #root .empty"),
}


def _start_demo(folder: Path, devices: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "cloud.cli", "demo", "--devices", str(devices)]
    command += ["--port", "0", "--out", str(folder), "--duration", "3600"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, env=env
    )
    deadline = time.monotonic() + 60
    while not (folder / "demo.json").exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the demo did not start")
        time.sleep(0.5)
    return process


def _timed(page: Page, url: str, selector: str) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.locator(selector).first.wait_for(state="visible", timeout=30_000)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=90.0, help="seconds of demo first")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        demo = _start_demo(Path(folder), args.devices)
        try:
            info = json.loads((Path(folder) / "demo.json").read_text())
            print(f"demo with {args.devices} devices; measuring after {args.warmup:g} s")
            time.sleep(args.warmup)
            root = info["api"].removesuffix("/api/v1")
            headers = {"Authorization": f"Bearer {info['service_token']}"}
            incidents = httpx.get(info["api"] + "/incidents?limit=1", headers=headers).json()
            views_to_time = dict(SERVICE_VIEWS)
            if incidents:
                route = f"#/incidents/{incidents[0]['id']}"
                views_to_time["incident"] = (route, "#incident-chart svg")
            views: dict[str, list[float]] = {}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                for width, viewport in VIEWPORTS.items():
                    for attempt in range(args.repeats):
                        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                        page = context.new_page()
                        page.goto(f"{root}/#token={info['service_token']}")  # signs the tab in
                        page.locator("#live").wait_for(state="visible")
                        for name, (route, ready) in views_to_time.items():
                            url = f"{root}/?load={attempt}{route}"  # a full load, not a hash move
                            views.setdefault(f"service {name} ({width})", []).append(
                                _timed(page, url, ready)
                            )
                        owner = f"{root}/app#token={info['owner_token']}"
                        views.setdefault(f"owner devices ({width})", []).append(
                            _timed(page, owner, "[data-device]")
                        )
                        maker = f"{root}/manufacturer#token={info['manufacturer_token']}"
                        views.setdefault(f"manufacturer runs ({width})", []).append(
                            _timed(page, maker, "#root .empty, [data-run]")
                        )
                        context.close()
                browser.close()
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(30)
    print(f"{'view':<36}{'median s':>10}{'worst s':>10}")
    medians = []
    for name, seconds in views.items():
        medians.append(statistics.median(seconds))
        print(f"{name:<36}{statistics.median(seconds):>10.3f}{max(seconds):>10.3f}")
    slowest = max(max(s) for s in views.values())
    print(
        f"slowest_view_s={slowest:.3f} median_view_s={statistics.median(medians):.3f} "
        f"views={len(views)}"
    )


if __name__ == "__main__":
    main()
