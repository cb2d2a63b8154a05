"""Part 1 of ``benchmarks/outreach.py``: wear models trained on a reliability fleet, and a
field population that wears out, forecast on a schedule as the service forecasts.

The reliability fleet is :func:`firmware_sim.wearout.run_to_failure` of one seed, turned
into training runs by :func:`cloud.rul.features.training_runs` and fitted with
``RulModel.fit`` per device model, as ``WearForecaster`` does with a run source. The
field devices (another seed) are the same simulated models, each installed at the start:
some stay healthy, the others begin wearing at a random day and fail after a time drawn
from the same :class:`~firmware_sim.wearout.LifeSpread`. Every ``forecast_every_s`` each
device still working is forecast on the samples of the service's window before that
moment (``RulHistory.live``: ``[now - window_s, now]``, the wear spec's metrics only),
through ``period_features``, the model and ``failure_forecast``, which is the service's
own last step. Nothing here sees the truth except the scoring in ``outreach.py``.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np
from threadpoolctl import threadpool_limits

from cloud.outreach.planner import FailureForecast
from cloud.planning.wear import failure_forecast
from cloud.rul.features import DeviceHistory, condition_columns, period_features, training_runs
from cloud.rul.model import RulModel
from cloud.rul.search import SearchGrid
from cloud.rul.wear_spec import WearSpec
from device_agent.clock import ManualClock
from firmware_sim.models.registry import build_device
from firmware_sim.wearout import LifeSpread, run_to_failure, wear_out_fault

DAY_S = 86_400.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class FieldDevice:
    """A device in the field: when its part starts wearing and fails (None: it does not
    wear), and whose it is."""

    device_id: str
    model: str
    owner_id: str
    wear_start_s: float | None
    failure_s: float | None

    def fails_by(self, end_s: float) -> bool:
        return self.failure_s is not None and self.failure_s < end_s


@dataclass(frozen=True)
class Trained:
    """A wear model and what cross-validation chose for it."""

    spec: WearSpec
    model: RulModel
    runs: int


@dataclass(frozen=True)
class FieldSettings:
    start_s: float
    end_s: float
    interval_s: float = 600.0
    period_s: float = 3600.0
    window_s: float = 30 * DAY_S
    forecast_every_s: float = 6 * 3600.0
    seed: int = 2
    spread: LifeSpread = field(default_factory=LifeSpread)
    """The field's parts wear as the reliability fleet's did."""


def _rng(*parts: object) -> random.Random:
    text = ":".join(str(p) for p in parts)
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def train_models(
    specs: Sequence[WearSpec],
    devices: int,
    *,
    seed: int,
    start_s: float,
    grid: SearchGrid,
    spread: LifeSpread,
    healthy_days: tuple[float, float],
    workers: int,
    say: Say,
) -> dict[str, Trained]:
    """One model per wear spec, trained on ``devices`` run-to-failure histories of it."""
    trained = {}
    for spec in specs:
        histories = run_to_failure(
            spec.model,
            devices,
            seed=seed,
            start_s=start_s,
            spread=spread,
            healthy_days=healthy_days,
            workers=workers,
        )
        runs = training_runs(histories, spec, 3600.0)
        say(f"wear model={spec.model}: {len(runs)} reliability runs, fitting")
        with threadpool_limits(1):  # OpenMP on a busy machine spins: one thread is faster
            model = RulModel.fit(runs, condition_columns=condition_columns(spec), grid=grid)
        say(f"wear model={spec.model}: {dict(model.choices)}")
        trained[spec.model] = Trained(spec, model, len(runs))
    return trained


def draw_field(
    models: Sequence[str],
    per_model: int,
    owner_ids: Sequence[str],
    settings: FieldSettings,
    wearing_share: float = 0.6,
) -> list[FieldDevice]:
    """``per_model`` devices of each model, each owned by a different owner where there
    are enough. A wearing device starts wearing between day 2 and 55 % of the horizon
    (so most fail inside it) and fails after a draw from the settings' life spread."""
    devices: list[FieldDevice] = []
    owners = list(owner_ids)
    _rng("owners", settings.seed).shuffle(owners)
    horizon = settings.end_s - settings.start_s
    for model in models:
        for index in range(per_model):
            device_id = f"{model}-field-{index:04d}"
            rng = _rng("field", settings.seed, device_id)
            owner = owners[len(devices) % len(owners)]
            if rng.random() >= wearing_share:
                devices.append(FieldDevice(device_id, model, owner, None, None))
                continue
            begins = settings.start_s + rng.uniform(2 * DAY_S, max(2 * DAY_S, 0.55 * horizon))
            failure = begins + settings.spread.draw_s(rng)
            devices.append(FieldDevice(device_id, model, owner, begins, failure))
    return devices


@dataclass(frozen=True)
class _Job:
    device: FieldDevice
    trained: Trained
    settings: FieldSettings


def follow(
    devices: Sequence[FieldDevice],
    trained: dict[str, Trained],
    settings: FieldSettings,
    workers: int,
    say: Say,
) -> dict[str, list[FailureForecast]]:
    """Every device's forecasts over the horizon, by device id (workers share devices;
    the result does not depend on how many)."""
    jobs = [_Job(d, trained[d.model], settings) for d in devices]
    found: dict[str, list[FailureForecast]] = {}
    results: Iterator[list[FailureForecast]]
    if workers <= 1:
        results = map(_follow, jobs)
    else:
        # Spawned, not forked: the parent has run OpenMP (the model fits), and a forked
        # child that runs it again can hang on the parent's copied thread-pool state.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
        results = pool.map(_follow, jobs)
    try:
        for number, (job, forecasts) in enumerate(zip(jobs, results, strict=True), start=1):
            found[job.device.device_id] = forecasts
            if number % 10 == 0 or number == len(jobs):
                say(f"field devices followed: {number}/{len(jobs)}")
    finally:
        if workers > 1:
            pool.shutdown()
    return found


def _follow(job: _Job) -> list[FailureForecast]:
    ts, metrics = _samples(job)
    settings, spec = job.settings, job.trained.spec
    stop = min(settings.end_s, job.device.failure_s or math.inf)
    ticks = np.arange(settings.start_s + settings.forecast_every_s, stop, settings.forecast_every_s)
    seen: list[tuple[float, DeviceHistory, np.ndarray]] = []
    for now in ticks:
        first = int(np.searchsorted(ts, now - settings.window_s, side="left"))
        last = int(np.searchsorted(ts, now, side="right"))  # the window is closed at now
        if last <= first:
            continue
        window = DeviceHistory(
            job.device.device_id,
            ts[first:last],
            {name: column[first:last] for name, column in metrics.items()},
        )
        rows = period_features(window, spec, settings.period_s)
        if len(rows):
            seen.append((float(now), window, rows))
    with threadpool_limits(1):
        predictions = job.trained.model.predict_many([rows for _, _, rows in seen])
    return [
        failure_forecast(
            spec,
            window,
            job.device.owner_id,
            now,
            predicted,
            len(rows),
            settings.period_s,
            job.trained.model.cap,
        )
        for (now, window, rows), predicted in zip(seen, predictions, strict=True)
    ]


def _samples(job: _Job) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The device read every ``interval_s`` from the start until it fails or the horizon
    ends, the wear spec's metrics only (what ``RulHistory`` reads)."""
    settings, device = job.settings, job.device
    clock = ManualClock(settings.start_s)
    simulated = build_device(device.model, device.device_id, clock, settings.seed)
    if device.wear_start_s is not None and device.failure_s is not None:
        time_to_failure = device.failure_s - device.wear_start_s
        simulated.inject(wear_out_fault(device.model, device.wear_start_s, time_to_failure))
    stop = min(settings.end_s, device.failure_s or math.inf)
    times = np.arange(settings.start_s, stop, settings.interval_s)
    names = sorted(job.trained.spec.metrics())
    columns: dict[str, list[float]] = {name: [] for name in names}
    for t in times:
        clock.advance(float(t) - clock.now())
        reading = simulated.read_metrics()
        for name in names:
            columns[name].append(float(reading.get(name, math.nan)))
    return times, {name: np.asarray(values, dtype=float) for name, values in columns.items()}
