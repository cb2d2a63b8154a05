"""A scenario run whose report is recorded in a cloud (``aftercare sim run --api``): the
run and its printed report as :mod:`firmware_sim.scenario` gives them, then the report
sent; the exit code is the scenario's verdict whether or not the upload worked."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from firmware_sim.run_report import build_report
from firmware_sim.scenario import ScenarioResult, run_and_print
from firmware_sim.upload import RecordTarget, UploadFailed, page_url, post_report


async def run_and_record(path: Path, mqtt_url: str | None, target: RecordTarget | None) -> int:
    """0 when every expectation held, 1 otherwise. A failed upload is said on stderr
    and never changes the exit code."""
    result = await run_and_print(path, mqtt_url)
    if target is not None:
        await record(result, path, target)
    return 0 if result.passed else 1


async def record(result: ScenarioResult, path: Path, target: RecordTarget) -> int | None:
    """Send the run's report; the recorded run's id, or None (said why on stderr)."""
    payload = build_report(result, path.name, target.reported_by)
    try:
        run_id = await asyncio.to_thread(post_report, target.api_url, target.token, payload)
    except UploadFailed as exc:
        print(f"the run was not recorded: {exc}", file=sys.stderr, flush=True)
        return None
    print(f"recorded as simulation run {run_id}: {page_url(target.api_url)}", flush=True)
    return run_id
