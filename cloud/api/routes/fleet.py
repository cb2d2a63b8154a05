"""The fleet at a glance for the service team: devices online per model, unresolved
incidents per signature and model, and the last day's (or week's) trend of incidents
opened and devices reporting, in one cheap call made of aggregate queries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cloud.api.deps import ReposDep, ServiceDep
from cloud.api.schemas.fleet import FleetSummaryOut
from cloud.fleet.trend import trend

router = APIRouter(prefix="/fleet", tags=["fleet"])

SPANS: dict[str, tuple[float, float]] = {
    "day": (86_400.0, 3600.0),
    "week": (7 * 86_400.0, 6 * 3600.0),
}
"""Window and bucket width: hours over a day, quarter days over a week."""


@router.get("/summary")
def fleet_summary(
    repos: ReposDep,
    _: ServiceDep,
    span: Annotated[Literal["day", "week"], Query(description="the trend's window")] = "day",
) -> FleetSummaryOut:
    now = repos.clock.now()
    span_s, width_s = SPANS[span]
    since = (now // width_s) * width_s - span_s + width_s
    fleet = repos.fleet
    points = trend(
        fleet.opened_per_bucket(since, width_s),
        fleet.reporting_per_bucket(since, width_s),
        now,
        span_s,
        width_s,
    )
    speed = float(getattr(repos.clock, "speed", 1.0))
    return FleetSummaryOut.of(
        now, speed, fleet.models(), fleet.unresolved_incidents(), span_s, width_s, points
    )
