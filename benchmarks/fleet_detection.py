"""Detection quality on a simulated fleet with injected faults.

Runs the cloud's per-device diagnosis and incident tracking (the very code the scoring
worker runs) over simulated devices, sample by sample, and compares the incidents it
opens with the simulator's ground-truth fault windows:

- per signature: precision, recall and detection delay (in telemetry intervals);
- on a healthy fleet (no faults): false incidents per device-day.

    python benchmarks/fleet_detection.py --devices 40 --days 4 --interval 60

Faults start after ``--warmup-hours`` so detectors have learned normal first, as they
would have in a fleet that has been reporting for a while.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.profiles import profile_for
from cloud.incidents.tracker import IncidentOpened, IncidentTracker
from cloud.learning import FleetModel
from device_agent.clock import ManualClock
from firmware_sim.fault_plan import plan_faults
from firmware_sim.faults import FaultWindow
from firmware_sim.models import MODELS, SimulatedDevice, build_device

START_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z: winter, the heat pumps work hard
MIN_FAULT_S = 1800.0
"""Faults shorter than this (self-ending ones) are not counted as missed if unseen."""


@dataclass
class Outcome:
    incidents: list[IncidentOpened] = field(default_factory=list)
    faults: list[tuple[str, FaultWindow]] = field(default_factory=list)
    samples: int = 0


def simulate(
    devices: int,
    days: float,
    interval_s: float,
    seed: int,
    faults_per_day: float,
    warmup_h: float,
    train_fleet_model: bool = True,
) -> Outcome:
    clock = ManualClock(START_S)
    models = sorted(MODELS)
    fleet: list[SimulatedDevice] = [
        build_device(models[i % len(models)], f"{models[i % len(models)]}-{i:04d}", clock, seed)
        for i in range(devices)
    ]
    if faults_per_day > 0:
        plan = plan_faults(
            [d.device_id for d in fleet],
            {d.device_id: d.model for d in fleet},
            rng_seed=seed,
            start_s=START_S + warmup_h * 3600,
            duration_s=days * 86_400 - warmup_h * 3600,
            rate_per_device_day=faults_per_day,
        )
        for device in fleet:
            for fault in plan[device.device_id]:
                device.inject(fault)
    fleet_models: dict[str, FleetModel] = {}
    history: dict[str, list[dict[str, float]]] = defaultdict(list)
    diagnosers = {
        d.device_id: DeviceDiagnoser(
            profile_for(d.model), lambda model=d.model: fleet_models.get(model)
        )
        for d in fleet
    }
    train_at_step = int(warmup_h * 3600 / interval_s) if train_fleet_model else -1
    tracker = IncidentTracker()
    outcome = Outcome()
    link_up = {d.device_id: True for d in fleet}
    steps = int(days * 86_400 / interval_s)
    for step in range(steps):
        for device in fleet:
            up = device.link_up()
            if up != link_up[device.device_id]:  # the broker's Last Will / reconnect
                link_up[device.device_id] = up
                diagnosers[device.device_id].observe_link(clock.now(), up)
            metrics = device.read_metrics()
            if step < train_at_step:
                history[device.model].append(metrics)
            findings = diagnosers[device.device_id].observe(clock.now(), metrics)
            for decision in tracker.observe(device.device_id, clock.now(), findings):
                if isinstance(decision, IncidentOpened):
                    outcome.incidents.append(decision)
            outcome.samples += 1
        if step == train_at_step:  # as the cloud's trainer would, from stored history
            for model, samples in history.items():
                fleet_models[model] = FleetModel.fit(model, samples)
        clock.advance(interval_s)
        if step % max(1, steps // 10) == 0:
            print(f"  {step / steps:4.0%} simulated", file=sys.stderr, flush=True)
    end_s = clock.now()
    for device in fleet:
        for window in device.fault_log:
            if window.start_s < end_s:
                outcome.faults.append((device.device_id, window))
    return outcome


def _matches(incident: IncidentOpened, device_id: str, window: FaultWindow, end_s: float) -> bool:
    stop = window.end_s if window.end_s is not None else end_s
    return (
        incident.device_id == device_id
        and incident.signature == window.signature
        and window.start_s <= incident.opened_at <= stop + 3600
    )


def report(
    outcome: Outcome, interval_s: float, end_s: float, counted_from_s: float
) -> dict[str, float]:
    by_signature: dict[str, dict[str, list[float]]] = defaultdict(
        lambda: {"tp": [], "fp": [], "fn": [], "delay": []}
    )
    matched: set[int] = set()
    for device_id, window in outcome.faults:
        family = window.signature
        hits = [
            i for i, inc in enumerate(outcome.incidents) if _matches(inc, device_id, window, end_s)
        ]
        duration = (window.end_s or end_s) - window.start_s
        if hits:
            matched.update(hits)
            first = min(outcome.incidents[i].opened_at for i in hits)
            by_signature[family]["tp"].append(1)
            by_signature[family]["delay"].append((first - window.start_s) / interval_s)
        elif duration >= MIN_FAULT_S:
            by_signature[family]["fn"].append(1)
    for i, incident in enumerate(outcome.incidents):
        if i not in matched and incident.opened_at >= counted_from_s:
            by_signature[incident.signature]["fp"].append(1)
    print(
        f"{'signature':<34}{'faults':>7}{'found':>7}{'FP':>5}{'precision':>11}{'recall':>8}"
        f"{'delay(med)':>12}"
    )
    tp_all = fp_all = fn_all = 0
    for signature in sorted(by_signature):
        row = by_signature[signature]
        tp, fp, fn = len(row["tp"]), len(row["fp"]), len(row["fn"])
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        delay = statistics.median(row["delay"]) if row["delay"] else float("nan")
        print(
            f"{signature:<34}{tp + fn:>7}{tp:>7}{fp:>5}{precision:>11.2f}{recall:>8.2f}"
            f"{delay:>12.1f}"
        )
    precision = tp_all / (tp_all + fp_all) if tp_all + fp_all else float("nan")
    recall = tp_all / (tp_all + fn_all) if tp_all + fn_all else float("nan")
    return {"precision": precision, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--interval", type=float, default=60.0, help="telemetry interval (s)")
    parser.add_argument("--faults-per-day", type=float, default=1.0, help="per device")
    parser.add_argument("--warmup-hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-fleet-model", action="store_true", help="cold start: no model")
    args = parser.parse_args()

    started = time.perf_counter()
    print(
        f"faulty fleet: {args.devices} devices, {args.days} days, {args.interval:g} s interval",
        flush=True,
    )
    faulty = simulate(
        args.devices, args.days, args.interval, args.seed, args.faults_per_day, args.warmup_hours
    )
    end_s = START_S + args.days * 86_400
    counted_from_s = START_S + args.warmup_hours * 3600
    figures = report(faulty, args.interval, end_s, counted_from_s)

    print(f"healthy fleet: {args.devices} devices, {args.days} days", flush=True)
    healthy = simulate(
        args.devices, args.days, args.interval, args.seed + 1, 0.0, args.warmup_hours
    )
    device_days = args.devices * args.days
    late = [i for i in healthy.incidents if i.opened_at >= counted_from_s]
    by_sig: dict[str, int] = defaultdict(int)
    for incident in late:
        by_sig[incident.signature] += 1
    print(
        f"false incidents after warm-up: {len(late)} over {device_days:g} device-days "
        f"({dict(sorted(by_sig.items()))})"
    )
    seconds = time.perf_counter() - started
    samples = faulty.samples + healthy.samples
    print(
        f"precision={figures['precision']:.2f} recall={figures['recall']:.2f} "
        f"false_incidents_per_device_day={len(late) / device_days:.3f} "
        f"samples={samples} samples_per_s={samples / seconds:.0f}"
    )


if __name__ == "__main__":
    main()
