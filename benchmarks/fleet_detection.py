"""Detection quality on a simulated fleet with injected faults, over several seeds.

Runs the cloud's per-device diagnosis and incident tracking (the very code the scoring
worker runs) over simulated devices, sample by sample, and compares the incidents it
opens with the simulator's ground-truth fault windows:

- per signature: precision, recall and detection delay (in telemetry intervals);
- on a healthy fleet (no faults): false incidents per device-day.

    python benchmarks/fleet_detection.py --devices 20 --days 3 --seeds 1,2,3 --jobs 2

One seed is one draw of a fleet; a detector that is fine on one draw and noisy on the
next is not fine, so each seed is reported on its own as well as pooled, and the last
line names the worst seed. The healthy fleet lives in a realistic world by default
(weather fronts, holidays, a firmware rollout that shifts a baseline, devices installed
mid-run: :mod:`firmware_sim.models.environment`); ``--no-realism`` gives the quiet world
for comparison. The faulty fleet always runs in the quiet world, so its figures measure
the detectors' response to faults alone.

Faults start after ``--warmup-hours`` so detectors have learned normal first, as they
would have in a fleet that has been reporting for a while; false incidents are counted
from then on, per device-day of telemetry in that counted period (a device installed
mid-run counts from its install, cold start included).

Recall and delay are also given over the faults that *showed* in the readings, with
delays from when they showed (``shown`` columns, ``recall_evident`` and
``median_delay_shape_evident``): each faulty device runs beside a fault-free twin, and a
fault shows once the metric it acts on reads three of its scales from the twin's
(:mod:`benchmarks.fault_evidence`). A drift that ends an hour in, or a hot connector no
car ever loaded, never shows: no detector can be asked to find it, and the plain figures
count it missed all the same.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from benchmarks.fault_evidence import EvidenceLog
from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.profiles import PROFILES, profile_for
from cloud.incidents.tracker import IncidentOpened, IncidentTracker
from cloud.learning import FleetModel
from device_agent.clock import ManualClock
from firmware_sim.fault_plan import plan_faults
from firmware_sim.faults import FaultWindow
from firmware_sim.models import (
    MODELS,
    Environment,
    SimulatedDevice,
    build_device,
    plan_environment,
)

START_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z: winter, the heat pumps work hard
MIN_FAULT_S = 1800.0
"""Faults shorter than this (self-ending ones) are not counted as missed if unseen."""
DAY_S = 86_400.0
SHAPE_FAMILIES = ("sensor-stuck/", "spike/", "connectivity/")
"""Signatures the diagnoser recognises by shape; with the profiles' hard-limit
signatures they are the ones held to a delay of a few intervals."""
RETRAIN_H = 24.0
"""The cloud retrains fleet models daily (``retrain_interval_s``), so by default so does
the benchmark: a model frozen after warm-up would judge a fleet after a firmware rollout
or a warm spell by a world that is gone, which measures the benchmark, not the product."""
TRAIN_WINDOW_S = 7 * DAY_S
TRAIN_MAX_SAMPLES = 200_000
"""The cloud trainer's defaults (cloud.learning.trainer.Trainer): last week, capped."""
LIMIT_SIGNATURES = frozenset(limit.signature for p in PROFILES.values() for limit in p.limits)


@dataclass
class Outcome:
    """What one simulated fleet produced: the incidents opened, the ground truth and how
    much telemetry was judged."""

    incidents: list[IncidentOpened] = field(default_factory=list)
    faults: list[tuple[str, FaultWindow]] = field(default_factory=list)
    samples: int = 0
    first_sample_s: dict[str, float] = field(default_factory=dict)
    evidence: EvidenceLog = field(default_factory=EvidenceLog)
    """When each fault first showed in the readings (faulty fleets only)."""


@dataclass(frozen=True)
class Config:
    devices: int
    days: float
    interval_s: float
    faults_per_day: float
    warmup_h: float
    realism: bool
    train_fleet_model: bool = True
    retrain_h: float | None = None

    @property
    def end_s(self) -> float:
        return START_S + self.days * DAY_S

    @property
    def counted_from_s(self) -> float:
        return START_S + self.warmup_h * 3600.0


@dataclass
class SignatureRow:
    """Counts for one signature: true positives (with their delays), misses, false ones."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    delays: list[float] = field(default_factory=list)
    evident_tp: int = 0
    evident_fn: int = 0
    evident_delays: list[float] = field(default_factory=list)
    """The same over the faults that showed in the readings (or were found), with delays
    from when they showed (:mod:`benchmarks.fault_evidence`)."""

    def add(self, other: SignatureRow) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.delays.extend(other.delays)
        self.evident_tp += other.evident_tp
        self.evident_fn += other.evident_fn
        self.evident_delays.extend(other.evident_delays)


@dataclass
class SeedResult:
    """Scores of one seed: the faulty fleet's rows and the healthy fleet's false alarms."""

    seed: int
    rows: dict[str, SignatureRow] = field(default_factory=dict)
    false_by_signature: dict[str, int] = field(default_factory=dict)
    healthy_device_days: float = 0.0
    samples: int = 0

    @property
    def false_incidents(self) -> int:
        return sum(self.false_by_signature.values())

    @property
    def false_per_device_day(self) -> float:
        return _ratio(self.false_incidents, self.healthy_device_days)


def build_fleet(
    devices: int, seed: int, clock: ManualClock, environment: Environment | None
) -> list[SimulatedDevice]:
    models = sorted(MODELS)
    return [
        build_device(models[i % len(models)], _device_id(models, i), clock, seed, environment)
        for i in range(devices)
    ]


def _device_id(models: Sequence[str], index: int) -> str:
    return f"{models[index % len(models)]}-{index:04d}"


def healthy_environment(devices: int, days: float, seed: int, warmup_h: float) -> Environment:
    """The realistic world of a healthy fleet, drawn from its seed."""
    models = sorted(MODELS)
    ids = [_device_id(models, i) for i in range(devices)]
    return plan_environment(ids, seed, START_S, days * DAY_S, settle_s=warmup_h * 3600.0)


def simulate(
    devices: int,
    days: float,
    interval_s: float,
    seed: int,
    faults_per_day: float,
    warmup_h: float,
    train_fleet_model: bool = True,
    environment: Environment | None = None,
    label: str | None = None,
    retrain_h: float | None = None,
) -> Outcome:
    """Run a fleet through per-device diagnosis and one incident tracker, as the scoring
    worker would; ``label`` prints progress to stderr under that name. The fleet models
    are trained at the end of warm-up and, with ``retrain_h``, again that often on the
    last week of telemetry (the cloud's retrain schedule); without it, never again."""
    clock = ManualClock(START_S)
    fleet = build_fleet(devices, seed, clock, environment)
    twins = None
    if faults_per_day > 0:
        _inject_faults(fleet, seed, days, faults_per_day, warmup_h)
        twins = {t.device_id: t for t in build_fleet(devices, seed, clock, environment)}
    fleet_models: dict[str, FleetModel] = {}
    history = _History(keep_all=retrain_h is None)
    diagnosers = {
        d.device_id: DeviceDiagnoser(profile_for(d.model), _model_source(fleet_models, d.model))
        for d in fleet
    }
    train_at_step = int(warmup_h * 3600 / interval_s) if train_fleet_model else -1
    retrain_steps = 0 if retrain_h is None else max(1, round(retrain_h * 3600 / interval_s))
    tracker = IncidentTracker()
    outcome = Outcome()
    link_up = {d.device_id: True for d in fleet}
    steps = int(days * DAY_S / interval_s)
    for step in range(steps):
        for device in fleet:
            if not device.installed():  # a mid-run install: nothing to hear yet
                continue
            outcome.first_sample_s.setdefault(device.device_id, clock.now())
            up = device.link_up()
            if up != link_up[device.device_id]:  # the broker's Last Will / reconnect
                link_up[device.device_id] = up
                diagnosers[device.device_id].observe_link(clock.now(), up)
            metrics = device.read_metrics()
            if twins is not None:
                _note_evidence(outcome.evidence, device, twins[device.device_id], metrics)
            diagnosers[device.device_id].observe_firmware(device.firmware, clock.now())
            if step < train_at_step or (retrain_steps and train_at_step >= 0):
                history.add(device.model, clock.now(), metrics)
            diagnosers[device.device_id].hold(tracker.suspected(device.device_id))
            findings = diagnosers[device.device_id].observe(clock.now(), metrics)
            for decision in tracker.observe(device.device_id, clock.now(), findings):
                if isinstance(decision, IncidentOpened):
                    outcome.incidents.append(decision)
            outcome.samples += 1
        due = step == train_at_step or (
            retrain_steps
            and train_at_step >= 0
            and step > train_at_step
            and (step - train_at_step) % retrain_steps == 0
        )
        if due:  # as the cloud's trainer would, from stored history
            fleet_models.update(history.fit(clock.now()))
        clock.advance(interval_s)
        if label is not None and step % max(1, steps // 4) == 0:
            print(f"  {label}: {step / steps:4.0%} simulated", file=sys.stderr, flush=True)
    end_s = clock.now()
    for device in fleet:
        for window in device.fault_log:
            if window.start_s < end_s:
                outcome.faults.append((device.device_id, window))
    return outcome


def _note_evidence(
    evidence: EvidenceLog,
    device: SimulatedDevice,
    twin: SimulatedDevice,
    metrics: dict[str, float],
) -> None:
    """Step the device's fault-free twin as the device was stepped (so both stay in
    lockstep) and note which of the device's faults now show in its readings."""
    twin.link_up()
    truth = twin.read_metrics()
    active = device.active_faults()
    if active:
        evidence.observe(
            device.device_id, active, metrics, truth, device.METRICS, device.clock.now()
        )


class _History:
    """Stored telemetry per device model, for training fleet models the way the cloud's
    trainer does: the last ``TRAIN_WINDOW_S``, at most ``TRAIN_MAX_SAMPLES`` of it taken
    at an even stride (``keep_all``: everything, for the one training after warm-up)."""

    def __init__(self, keep_all: bool) -> None:
        self.keep_all = keep_all
        self.samples: dict[str, list[tuple[float, dict[str, float]]]] = defaultdict(list)

    def add(self, model: str, ts: float, metrics: dict[str, float]) -> None:
        self.samples[model].append((ts, metrics))

    def fit(self, now: float) -> dict[str, FleetModel]:
        models = {}
        for model, rows in self.samples.items():
            if not self.keep_all:
                rows[:] = [row for row in rows if row[0] >= now - TRAIN_WINDOW_S]
            stride = 1 if self.keep_all else max(1, math.ceil(len(rows) / TRAIN_MAX_SAMPLES))
            models[model] = FleetModel.fit(model, [m for _, m in rows[::stride]])
        return models


def _model_source(
    fleet_models: dict[str, FleetModel], model: str
) -> Callable[[], FleetModel | None]:
    """The fleet model of ``model`` once trained (None before), read at each sample."""
    return lambda: fleet_models.get(model)


def _inject_faults(
    fleet: list[SimulatedDevice], seed: int, days: float, faults_per_day: float, warmup_h: float
) -> None:
    plan = plan_faults(
        [d.device_id for d in fleet],
        {d.device_id: d.model for d in fleet},
        rng_seed=seed,
        start_s=START_S + warmup_h * 3600,
        duration_s=days * DAY_S - warmup_h * 3600,
        rate_per_device_day=faults_per_day,
    )
    for device in fleet:
        for fault in plan[device.device_id]:
            device.inject(fault)


def _matches(incident: IncidentOpened, device_id: str, window: FaultWindow, end_s: float) -> bool:
    stop = window.end_s if window.end_s is not None else end_s
    return (
        incident.device_id == device_id
        and incident.signature == window.signature
        and window.start_s <= incident.opened_at <= stop + 3600
    )


def score(
    outcome: Outcome, interval_s: float, end_s: float, counted_from_s: float
) -> dict[str, SignatureRow]:
    """Per-signature rows of a faulty fleet: each fault found (with its delay in
    intervals) or missed, and each incident after warm-up that matches no fault."""
    rows: dict[str, SignatureRow] = defaultdict(SignatureRow)
    matched: set[int] = set()
    for device_id, window in outcome.faults:
        hits = [
            i for i, inc in enumerate(outcome.incidents) if _matches(inc, device_id, window, end_s)
        ]
        duration = (window.end_s or end_s) - window.start_s
        evident_s = outcome.evidence.evident_at(device_id, window)
        if hits:
            matched.update(hits)
            first = min(outcome.incidents[i].opened_at for i in hits)
            row = rows[window.signature]
            row.tp += 1
            row.delays.append((first - window.start_s) / interval_s)
            row.evident_tp += 1
            shown = window.start_s if evident_s is None else evident_s
            row.evident_delays.append(max(0.0, first - shown) / interval_s)
        else:  # a fault too short to count and never shown leaves no row
            if duration >= MIN_FAULT_S:
                rows[window.signature].fn += 1
            if evident_s is not None:
                rows[window.signature].evident_fn += 1
    for i, incident in enumerate(outcome.incidents):
        if i not in matched and incident.opened_at >= counted_from_s:
            rows[incident.signature].fp += 1
    return dict(rows)


def false_incidents(outcome: Outcome, counted_from_s: float) -> dict[str, int]:
    """Incidents a healthy fleet opened after warm-up, by signature: all of them false."""
    by_signature: dict[str, int] = defaultdict(int)
    for incident in outcome.incidents:
        if incident.opened_at >= counted_from_s:
            by_signature[incident.signature] += 1
    return dict(sorted(by_signature.items()))


def exposure_device_days(outcome: Outcome, counted_from_s: float, end_s: float) -> float:
    """Device-days of telemetry judged in the counted period: a device counts from the
    later of warm-up's end and its first sample (a mid-run install)."""
    seconds = sum(end_s - max(counted_from_s, first) for first in outcome.first_sample_s.values())
    return max(0.0, seconds) / DAY_S


def run_fleet(config: Config, seed: int, healthy: bool) -> tuple[int, bool, Outcome]:
    """One fleet of one seed (a unit of work for the process pool). The healthy fleet of
    seed s is drawn with seed s + 1, so it is not the faulty fleet minus its faults."""
    fleet_seed = seed + 1 if healthy else seed
    environment = None
    if healthy and config.realism:
        environment = healthy_environment(config.devices, config.days, fleet_seed, config.warmup_h)
    outcome = simulate(
        config.devices,
        config.days,
        config.interval_s,
        fleet_seed,
        0.0 if healthy else config.faults_per_day,
        config.warmup_h,
        config.train_fleet_model,
        environment,
        label=f"seed {seed} {'healthy' if healthy else 'faulty'}",
        retrain_h=config.retrain_h,
    )
    return seed, healthy, outcome


def run_seeds(config: Config, seeds: Sequence[int], jobs: int) -> list[SeedResult]:
    """Every (seed, fleet) pair, in ``jobs`` processes; results in seed order."""
    tasks = [(seed, healthy) for seed in seeds for healthy in (False, True)]
    if jobs <= 1:
        done = [run_fleet(config, seed, healthy) for seed, healthy in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_fleet, config, seed, h) for seed, h in tasks]
            done = [f.result() for f in futures]
    results = {seed: SeedResult(seed) for seed in seeds}
    for seed, healthy, outcome in done:
        result = results[seed]
        result.samples += outcome.samples
        if healthy:
            result.false_by_signature = false_incidents(outcome, config.counted_from_s)
            result.healthy_device_days = exposure_device_days(
                outcome, config.counted_from_s, config.end_s
            )
        else:
            result.rows = score(outcome, config.interval_s, config.end_s, config.counted_from_s)
    return [results[seed] for seed in seeds]


def pooled(results: Iterable[SeedResult]) -> dict[str, SignatureRow]:
    rows: dict[str, SignatureRow] = defaultdict(SignatureRow)
    for result in results:
        for signature, row in result.rows.items():
            rows[signature].add(row)
    return dict(rows)


def totals(rows: dict[str, SignatureRow]) -> tuple[float, float]:
    """Precision and recall over every signature."""
    tp = sum(r.tp for r in rows.values())
    fp = sum(r.fp for r in rows.values())
    fn = sum(r.fn for r in rows.values())
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn)


def evident_recall(rows: dict[str, SignatureRow]) -> float:
    """Recall over the faults that showed in the readings (or were found anyway)."""
    tp = sum(r.evident_tp for r in rows.values())
    return _ratio(tp, tp + sum(r.evident_fn for r in rows.values()))


def is_shape(signature: str) -> bool:
    return signature.startswith(SHAPE_FAMILIES) or signature in LIMIT_SIGNATURES


def median_delay(
    rows: dict[str, SignatureRow], keep: str | None = None, evident: bool = False
) -> float:
    """Median delay in intervals over the shape signatures (``keep``: one family only,
    ``"limits"`` for the hard-limit signatures; ``evident``: counted from when each fault
    showed in the readings, not from its start)."""
    delays: list[float] = []
    for signature, row in rows.items():
        if keep == "limits":
            wanted = signature in LIMIT_SIGNATURES
        elif keep is not None:
            wanted = signature.startswith(keep)
        else:
            wanted = is_shape(signature)
        if wanted:
            delays.extend(row.evident_delays if evident else row.delays)
    return statistics.median(delays) if delays else float("nan")


def print_rows(title: str, rows: dict[str, SignatureRow]) -> None:
    print(title)
    print(
        f"{'signature':<34}{'faults':>7}{'found':>7}{'FP':>5}{'precision':>11}{'recall':>8}"
        f"{'delay(med)':>12}{'shown':>7}{'recall':>8}{'delay':>8}"
    )
    for signature in sorted(rows):
        row = rows[signature]
        precision = _ratio(row.tp, row.tp + row.fp)
        recall = _ratio(row.tp, row.tp + row.fn)
        delay = statistics.median(row.delays) if row.delays else float("nan")
        shown = row.evident_tp + row.evident_fn
        shown_delays = row.evident_delays
        shown_delay = statistics.median(shown_delays) if shown_delays else float("nan")
        print(
            f"{signature:<34}{row.tp + row.fn:>7}{row.tp:>7}{row.fp:>5}{precision:>11.2f}"
            f"{recall:>8.2f}{delay:>12.1f}{shown:>7}{_ratio(row.evident_tp, shown):>8.2f}"
            f"{shown_delay:>8.1f}"
        )


def print_summary(results: Sequence[SeedResult]) -> None:
    print("per seed (faulty fleet: precision, recall, shape delay; healthy fleet: false)")
    print(
        f"{'seed':>6}{'precision':>11}{'recall':>8}{'delay_shape':>13}{'false':>7}"
        f"{'device-days':>13}{'false/dd':>10}  false by signature"
    )
    for result in results:
        precision, recall = totals(result.rows)
        print(
            f"{result.seed:>6}{precision:>11.2f}{recall:>8.2f}{median_delay(result.rows):>13.1f}"
            f"{result.false_incidents:>7}{result.healthy_device_days:>13.1f}"
            f"{result.false_per_device_day:>10.3f}  {result.false_by_signature}"
        )


def last_line(
    results: Sequence[SeedResult],
    seconds: float,
    realism: bool,
    retrain_h: float | None = RETRAIN_H,
) -> str:
    """The key=value figures: today's keys first (pooled over seeds), then per seed, then
    how the fleet models were trained (``retrain_hours=0``: once, after warm-up)."""
    rows = pooled(results)
    precision, recall = totals(rows)
    false_all = sum(r.false_incidents for r in results)
    device_days = sum(r.healthy_device_days for r in results)
    samples = sum(r.samples for r in results)
    worst = max(results, key=lambda r: r.false_per_device_day)
    figures = [
        f"precision={precision:.2f}",
        f"recall={recall:.2f}",
        f"false_incidents_per_device_day={_ratio(false_all, device_days):.3f}",
        f"samples={samples}",
        f"samples_per_s={samples / seconds:.0f}",
        f"seeds={','.join(str(r.seed) for r in results)}",
        f"realism={'on' if realism else 'off'}",
        *(f"false_per_device_day_seed{r.seed}={r.false_per_device_day:.3f}" for r in results),
        f"worst_seed={worst.seed}",
        f"worst_false_per_device_day={worst.false_per_device_day:.3f}",
        f"median_delay_shape={median_delay(rows):.1f}",
        f"median_delay_stuck={median_delay(rows, 'sensor-stuck/'):.1f}",
        f"median_delay_spike={median_delay(rows, 'spike/'):.1f}",
        f"median_delay_connectivity={median_delay(rows, 'connectivity/'):.1f}",
        f"median_delay_limits={median_delay(rows, 'limits'):.1f}",
        f"retrain_hours={retrain_h or 0:g}",
        f"recall_evident={evident_recall(rows):.2f}",
        f"median_delay_shape_evident={median_delay(rows, evident=True):.1f}",
    ]
    return " ".join(figures)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _seeds(text: str) -> list[int]:
    seeds = [int(part) for part in text.split(",") if part.strip()]
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError("--seeds needs distinct integers, e.g. 1,2,3")
    return seeds


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=60.0, help="telemetry interval (s)")
    parser.add_argument("--faults-per-day", type=float, default=1.0, help="per device")
    parser.add_argument("--warmup-hours", type=float, default=24.0)
    parser.add_argument("--seeds", type=_seeds, default=[1, 2, 3], help="e.g. 1,2,3")
    parser.add_argument("--seed", type=int, default=None, help="one seed (same as --seeds N)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (one fleet each)")
    parser.add_argument("--no-fleet-model", action="store_true", help="cold start: no model")
    parser.add_argument(
        "--retrain-hours",
        type=float,
        default=RETRAIN_H,
        help="retrain fleet models this often on the last week, as the cloud's trainer "
        f"does (default {RETRAIN_H:g}, its retrain_interval_s); 0: train once after warm-up",
    )
    parser.add_argument(
        "--no-realism",
        action="store_true",
        help="healthy fleet in a quiet world: no fronts, holidays, rollout or mid-run installs",
    )
    args = parser.parse_args(argv)
    if args.seed is not None:  # the single-seed flag of earlier versions
        args.seeds = [args.seed]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    config = Config(
        devices=args.devices,
        days=args.days,
        interval_s=args.interval,
        faults_per_day=args.faults_per_day,
        warmup_h=args.warmup_hours,
        realism=not args.no_realism,
        train_fleet_model=not args.no_fleet_model,
        retrain_h=args.retrain_hours or None,
    )
    print(
        f"fleets: {config.devices} devices, {config.days:g} days, {config.interval_s:g} s "
        f"interval, seeds {args.seeds}, healthy-fleet realism "
        f"{'on' if config.realism else 'off'}",
        flush=True,
    )
    started = time.perf_counter()
    results = run_seeds(config, args.seeds, args.jobs)
    seconds = time.perf_counter() - started
    for result in results:
        print_rows(f"faulty fleet, seed {result.seed}", result.rows)
    print_rows(f"faulty fleet, all seeds {args.seeds}", pooled(results))
    print_summary(results)
    print(last_line(results, seconds, config.realism, config.retrain_h))


if __name__ == "__main__":
    main()
