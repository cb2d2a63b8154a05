"""A scenario run with its report written and recorded (``aftercare sim run --json FILE
--junit FILE --api URL --token TOKEN``): the run and its printed report as
:mod:`firmware_sim.scenario` gives them, then the report files, then the report sent; the
exit code is the scenario's verdict whether or not the upload worked."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from device_agent.clock import Clock
from firmware_sim.report_files import write_json, write_junit
from firmware_sim.run_report import build_report
from firmware_sim.scenario import ScenarioResult, run_and_print
from firmware_sim.upload import RecordTarget, UploadFailed, page_url, post_report


@dataclass(frozen=True)
class ReportFiles:
    """Where to write the report (nothing when None) and who reports it."""

    json_path: Path | None = None
    junit_path: Path | None = None
    reported_by: str = "aftercare sim run"


async def run_and_record(
    path: Path,
    mqtt_url: str | None,
    target: RecordTarget | None,
    *,
    speed: float | None = None,
    files: ReportFiles | None = None,
    clock: Clock | None = None,
) -> int:
    """0 when every expectation held, 1 otherwise. The cloud given as ``target`` is
    read for the expectations that need it and records the report; a failed upload is
    said on stderr and never changes the exit code. ``clock`` is device time (a test
    shares one with the cloud it runs)."""
    result = await run_and_print(path, mqtt_url, speed=speed, cloud=target, clock=clock)
    write_report_files(result, path, files)
    if target is not None:
        await record(result, path, target)
    return 0 if result.passed else 1


def write_report_files(result: ScenarioResult, path: Path, files: ReportFiles | None) -> None:
    """The JSON and JUnit reports the options asked for (none when ``files`` is None)."""
    if files is None:
        return
    report = build_report(result, path.name, files.reported_by)
    if files.json_path is not None:
        write_json(report, files.json_path)
    if files.junit_path is not None:
        write_junit(report, files.junit_path)


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
