"""The report of a finished scenario run, as a cloud records it (``POST
/api/v1/sim-runs``): plain JSON built from the run's result, nothing else read.

Times go as ISO 8601 with their UTC offset; each expectation carries its words, the
devices involved and the measured amount against its limit, exactly as checked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_sim.scenario import ScenarioResult

MAX_REPORTED_BY = 128


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat()


def build_report(result: ScenarioResult, scenario_file: str, reported_by: str) -> dict[str, Any]:
    """The JSON body for ``POST /api/v1/sim-runs``; ``scenario_file`` is the file's name
    (not its path: folders on a CI runner mean nothing to the reader)."""
    scenario = result.scenario
    return {
        "scenario": scenario.name,
        "scenario_file": scenario_file,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(max(result.finished_at, result.started_at)),
        "speed": scenario.speed,
        "seed": scenario.fleet.seed,
        "devices": scenario.fleet.devices,
        "models": list(result.models),
        "passed": result.passed,
        "expectations": [
            {
                "name": e.name,
                "passed": e.passed,
                "detail": e.detail,
                "devices": list(e.devices),
                "measured": e.measured,
                "limit": e.limit,
            }
            for e in result.expectations
        ],
        "summary": result.summary,
        "reported_by": " ".join(reported_by.split())[:MAX_REPORTED_BY],
    }
