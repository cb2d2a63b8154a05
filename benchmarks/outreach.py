"""Proactive outreach over simulated months: wear-outs raised in time, owners reached on
their terms, support requests with complete bundles.

Usage: ``python -m benchmarks.outreach [--owners 240] [--months 3] [--devices 16]
[--seed 1] [--bundles 40] [--forecast-every-h 6] [--grid small|full]`` (a few minutes;
progress on stderr).

1. **Wear-out lead time.** A wear model per device model is trained on a reliability
   fleet's run-to-failure histories (seed ``--seed``); ``--devices`` field devices per
   model (another seed) are followed from the start, some wearing out and failing inside
   the horizon. They are forecast every ``--forecast-every-h`` hours on the service's
   window, the planner turns forecasts into items, and delivery brings them to their
   owners. Figure: the share of failures inside the horizon whose owner was contacted
   at least the policy's lead time before (``wearout_lead_share``), and the wear-out
   items raised for devices that did not fail within the horizon (``false_alarms``).
2. **Owners.** ``--owners`` owners in several zones (with and without daylight saving),
   with and without preferences of their own and with hidden habits, get escalations,
   feedback questions after remote fixes and service visits, and the wear-outs, through
   the service's pure planner and delivery functions (``benchmarks/outreach_desk.py``).
   Figures, from the delivery log alone: non-critical contacts in quiet hours or outside
   the owner's windows, contacts over the cap, and the answer rate in the first and the
   last month (overall, and for owners who set nothing, for whom delivery learns).
3. **Support bundles.** ``--bundles`` support requests to simulated devices behind real
   agents; the share of complete, redacted bundles.

The last line holds the figures as ``key=value``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from benchmarks.outreach_bundles import collect_bundles
from benchmarks.outreach_desk import Desk, Item
from benchmarks.outreach_owners import Owner, draw_owners
from benchmarks.outreach_report import report
from benchmarks.outreach_wear import (
    DAY_S,
    FieldSettings,
    draw_field,
    follow,
    train_models,
)
from cloud.outreach.planner import (
    EscalatedIncident,
    FailureForecast,
    FeedbackTrigger,
    OutreachPolicy,
    WearConfirmation,
    plan,
)
from cloud.outreach.responses import Answer
from cloud.rul.search import SearchGrid
from cloud.rul.wear_spec import load_wear_specs
from firmware_sim.wearout import LifeSpread

START = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
"""Spring: New York, Berlin and London move their clocks forward and Sydney back."""
MONTH_S = 30 * DAY_S


_BEGAN = time.perf_counter()


def say(text: str) -> None:
    print(f"[outreach {time.perf_counter() - _BEGAN:6.1f}s] {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    end = START + args.months * MONTH_S
    policy = OutreachPolicy()
    owners = {o.owner_id: o for o in draw_owners(args.owners, args.seed)}
    specs = load_wear_specs()
    grid = SearchGrid.small() if args.grid == "small" else SearchGrid()
    spread = LifeSpread(scale_days=args.life_days)
    trained = train_models(
        specs,
        args.reliability_devices,
        seed=args.seed,
        start_s=START,
        grid=grid,
        spread=spread,
        healthy_days=(args.healthy_days[0], args.healthy_days[1]),
        workers=args.workers,
        say=say,
    )
    settings = FieldSettings(
        START,
        end,
        forecast_every_s=args.forecast_every_h * 3600.0,
        seed=args.seed + 1000,
        spread=spread,
    )
    field = draw_field([s.model for s in specs], args.devices, list(owners), settings)
    forecasts = follow(field, trained, settings, args.workers, say)
    desk = Desk(owners, policy, random.Random(args.seed))
    _schedule_forecasts(desk, forecasts, policy)
    _schedule_owner_life(desk, owners, args, end, policy)
    say(f"simulating {args.months} months of {len(owners)} owners")
    desk.run(end)
    bundles = collect_bundles(args.bundles, args.seed, START, say)
    figures = report(desk, owners, field, trained, bundles, policy, args.months, START, end)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--owners", type=int, default=240)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--devices", type=int, default=16, help="field devices per model")
    parser.add_argument("--reliability-devices", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bundles", type=int, default=40)
    parser.add_argument("--forecast-every-h", type=float, default=6.0)
    parser.add_argument("--grid", choices=("small", "full"), default="small")
    parser.add_argument(
        "--healthy-days",
        type=float,
        nargs=2,
        default=(10.0, 30.0),
        help="how long a reliability unit runs before its part starts wearing (low high)",
    )
    parser.add_argument(
        "--life-days", type=float, default=20.0, help="Weibull scale of a part's wear-out"
    )
    parser.add_argument("--escalations-per-month", type=float, default=0.5)
    parser.add_argument("--fixes-per-month", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    return parser


# -- what happens to the owners ----------------------------------------------------------


def _schedule_forecasts(
    desk: Desk, forecasts: dict[str, list[FailureForecast]], policy: OutreachPolicy
) -> None:
    """Each forecasting round goes to the planner in one call, as the worker does."""
    rounds: dict[float, list[FailureForecast]] = defaultdict(list)
    for device_forecasts in forecasts.values():
        for forecast in device_forecasts:
            rounds[forecast.at].append(forecast)
    confirmation = WearConfirmation(policy.confirm_rounds)
    for at, batch in rounds.items():

        def planned(now: float, batch: list[FailureForecast] = batch) -> None:
            zones = desk.zones(f.owner_id for f in batch)
            drafts = plan(now, forecasts=batch, time_zones=zones, policy=policy)
            desk.add(confirmation.confirm(drafts, batch), now)

        desk.at(at, planned)


def _schedule_owner_life(
    desk: Desk,
    owners: dict[str, Owner],
    args: argparse.Namespace,
    end: float,
    policy: OutreachPolicy,
) -> None:
    """Escalations and verified fixes at random (Poisson) times per owner; a booked visit
    happens at its slot and is asked about afterwards."""
    rng = random.Random(f"life:{args.seed}")
    incident = 0
    for owner_id in owners:
        device_id = f"{owner_id}-device"
        for kind, per_month in (
            ("escalation", args.escalations_per_month),
            ("fix", args.fixes_per_month),
        ):
            at = START
            while per_month > 0:
                at += rng.expovariate(per_month / MONTH_S)
                if at >= end:
                    break
                incident += 1
                desk.at(at, _fact(desk, kind, incident, owner_id, device_id, at, policy))
    desk.on_answer.append(lambda item, answer: _visit(desk, item, answer, policy))


def _fact(
    desk: Desk,
    kind: str,
    incident: int,
    owner_id: str,
    device_id: str,
    at: float,
    policy: OutreachPolicy,
) -> Callable[[float], None]:
    def escalated(now: float) -> None:
        fact = EscalatedIncident(
            incident, device_id, owner_id, "overheat/compressor",
            "The compressor runs hot.", "no remote fix left", at, ("reduce_power",),
        )  # fmt: skip
        zones = desk.zones([owner_id])
        desk.add(plan(now, escalations=[fact], time_zones=zones, policy=policy), now)

    def fixed(now: float) -> None:
        trigger = FeedbackTrigger(device_id, owner_id, "verified_fix", incident, at, incident)
        desk.at(
            now + policy.feedback_delay_s,
            lambda t: desk.add(plan(t, feedback=[trigger], policy=policy), t),
        )

    return escalated if kind == "escalation" else fixed


def _visit(desk: Desk, item: Item, answer: Answer, policy: OutreachPolicy) -> None:
    if answer.response != "book" or answer.slot is None:
        return
    draft = item.draft
    visit_at = answer.slot.end_s

    def done(now: float) -> None:
        if item.closed_at is None:
            item.status, item.closed_at = "done", now
        trigger = FeedbackTrigger(draft.device_id, draft.owner_id, "service_visit", item.id, now)
        desk.at(
            now + policy.feedback_delay_s,
            lambda t: desk.add(plan(t, feedback=[trigger], policy=policy), t),
        )

    desk.at(visit_at, done)


if __name__ == "__main__":
    raise SystemExit(main())
