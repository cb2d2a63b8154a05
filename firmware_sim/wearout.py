"""Run-to-failure histories, offline: what a manufacturer's reliability test fleet produces.

:func:`run_to_failure` simulates N devices of one model, each healthy for a while and then
wearing out (a ``wear-out`` fault, :mod:`firmware_sim.faults`) until its part fails after a
time drawn from a Weibull spread, and samples each device every ``interval_s`` up to the
failure, without MQTT or an agent: the same device models, read on a manual clock. It is
what a remaining-useful-life model is seeded from before the field fleet has failed enough
parts of its own.

:func:`plan_wear_out` draws the same kind of wear-out for a share of a live fleet (opt-in:
random fault plans never include it, so other benchmarks stay comparable).

Fast enough for a demo: the physics steps once a simulated minute in pure Python (about
10 ms per device-day; ``python -m benchmarks.wearout_speed``), and ``workers`` spreads
devices over processes. Results do not depend on ``workers``.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from device_agent.clock import ManualClock
from firmware_sim.faults import Fault, FaultKind
from firmware_sim.models.registry import build_device, model_class
from firmware_sim.models.signals import SECONDS_PER_DAY

__all__ = ["LifeSpread", "RunToFailure", "plan_wear_out", "run_to_failure", "wear_out_fault"]


@dataclass(frozen=True)
class LifeSpread:
    """Time to failure once wear has begun: Weibull with ``shape`` (above 1: wear-out, the
    failure rate grows with age) and ``scale_days`` (63 % have failed by then), never
    shorter than ``min_days`` (the ramp must be observable at all)."""

    scale_days: float = 20.0
    shape: float = 2.5
    min_days: float = 2.0

    def __post_init__(self) -> None:
        for name in ("scale_days", "shape", "min_days"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"LifeSpread.{name} must be a positive number, not {value!r}")

    def draw_s(self, rng: random.Random) -> float:
        """One time to failure, in seconds."""
        days = max(self.min_days, rng.weibullvariate(self.scale_days, self.shape))
        return days * SECONDS_PER_DAY


@dataclass(frozen=True)
class RunToFailure:
    """One device's history up to its failure: samples at ``ts`` (ascending, all before
    ``failure_s``), ``metrics`` as one array per metric parallel to ``ts``."""

    device_id: str
    model: str
    ts: np.ndarray
    metrics: Mapping[str, np.ndarray]
    wear_start_s: float
    failure_s: float
    fault: Fault = field(repr=False)


def wear_out_fault(
    model: str, start_s: float, time_to_failure_s: float, magnitude: float = 1.0
) -> Fault:
    """The wear-out of ``model``'s wearing part (connector, compressor)."""
    component = model_class(model).WEAR_COMPONENT
    return Fault(FaultKind.WEAR_OUT, component, start_s, time_to_failure_s, magnitude)


def _rng(*parts: object) -> random.Random:
    text = ":".join(str(p) for p in parts)
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def plan_wear_out(
    device_ids: Sequence[str],
    models: Mapping[str, str],
    seed: int,
    start_s: float,
    share: float,
    spread: LifeSpread | None = None,
    magnitude: float = 1.0,
) -> dict[str, Fault]:
    """Wear-outs for about ``share`` of the devices, drawn reproducibly from ``seed``:
    each starts within a day after ``start_s`` and fails after a time from ``spread``.
    ``models`` maps device id -> model id."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"wear-out share must lie in [0, 1], not {share}")
    spread = spread or LifeSpread()
    plan: dict[str, Fault] = {}
    for device_id in device_ids:
        rng = _rng("wear", seed, device_id)
        if rng.random() >= share:
            continue
        begins_s = start_s + rng.uniform(0.0, SECONDS_PER_DAY)
        plan[device_id] = wear_out_fault(models[device_id], begins_s, spread.draw_s(rng), magnitude)
    return plan


@dataclass(frozen=True)
class _Job:
    model: str
    device_id: str
    seed: int
    start_s: float
    interval_s: float
    healthy_s: float
    time_to_failure_s: float
    magnitude: float


def run_to_failure(
    model: str,
    devices: int,
    *,
    seed: int = 0,
    start_s: float = 1_700_000_000.0,
    interval_s: float = 600.0,
    spread: LifeSpread | None = None,
    healthy_days: tuple[float, float] = (1.0, 5.0),
    magnitude: float = 1.0,
    workers: int | None = None,
) -> list[RunToFailure]:
    """``devices`` run-to-failure histories of ``model``: device ``i`` is
    ``{model}-rtf-{i:04d}``, healthy for a time drawn from ``healthy_days`` and then
    wearing out until it fails. Deterministic in (model, devices, seed, times, spread);
    ``workers`` processes share the devices (None: one per CPU, 1: this process)."""
    if devices < 1:
        raise ValueError("run_to_failure needs at least one device")
    if not (math.isfinite(interval_s) and interval_s > 0):
        raise ValueError(f"interval_s must be a positive number, not {interval_s!r}")
    low, high = healthy_days
    if not 0.0 <= low <= high:
        raise ValueError(
            f"healthy_days must be (low, high) with 0 <= low <= high, not {healthy_days}"
        )
    model_class(model)  # an unknown model fails here, naming the known ones
    spread = spread or LifeSpread()
    jobs = []
    for index in range(devices):
        device_id = f"{model}-rtf-{index:04d}"
        rng = _rng("rtf", seed, model, device_id)
        healthy_s = rng.uniform(low, high) * SECONDS_PER_DAY
        jobs.append(
            _Job(
                model,
                device_id,
                seed,
                start_s,
                interval_s,
                healthy_s,
                spread.draw_s(rng),
                magnitude,
            )
        )
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers <= 1 or devices == 1:
        return [_simulate(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=min(workers, devices)) as pool:
        return list(pool.map(_simulate, jobs))


def _simulate(job: _Job) -> RunToFailure:
    """Read one device every ``interval_s`` from ``start_s`` until its part fails."""
    clock = ManualClock(job.start_s)
    device = build_device(job.model, job.device_id, clock, job.seed)
    fault = wear_out_fault(
        job.model, job.start_s + job.healthy_s, job.time_to_failure_s, job.magnitude
    )
    device.inject(fault)
    failure_s = fault.start_s + job.time_to_failure_s  # what fault.failure_s says
    times = np.arange(job.start_s, failure_s, job.interval_s)
    rows: list[dict[str, float]] = []
    for t in times:
        clock.advance(float(t) - clock.now())
        rows.append(device.read_metrics())
    names = list(rows[0]) if rows else list(device.METRICS)
    metrics = {name: np.fromiter((row[name] for row in rows), float, len(rows)) for name in names}
    return RunToFailure(job.device_id, job.model, times, metrics, fault.start_s, failure_s, fault)
