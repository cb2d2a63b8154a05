"""Wear forecasts for the planner: a remaining-life model per wear spec (device model and
part), trained on run-to-failure histories, asked about every device of that model on a
schedule.

Where the training runs come from is the caller's choice (:class:`RunSource`): in
production, the fleet's own failures as stored (:class:`FleetRuns`); a manufacturer's
reliability-test histories where a fleet has no failures yet. A model is retrained when
``retrain_s`` has passed, and not at all while there are fewer than ``min_runs`` runs:
with too few failures a forecast would be a guess dressed as a prediction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from cloud.db.rul_history import RulHistory
from cloud.outreach.planner import FailureForecast
from cloud.rul.features import DeviceHistory, condition_columns, period_features, training_runs
from cloud.rul.model import RulModel, RulPrediction
from cloud.rul.search import SearchGrid
from cloud.rul.wear_spec import WearSpec

log = logging.getLogger("aftercare.planning.wear")

Owners = Callable[[Sequence[str]], dict[str, str]]
"""Device ids -> their owners' ids (devices nobody owns are left out)."""


class RunSource(Protocol):
    def runs(self, spec: WearSpec, period_s: float, now: float) -> list[np.ndarray]:
        """Feature rows of run-to-failure histories of ``spec``'s model and part."""
        ...


class FleetRuns:
    """Training runs from the fleet's stored failures."""

    def __init__(self, history: RulHistory, window_s: float, max_devices: int = 200) -> None:
        self.history = history
        self.window_s = window_s
        self.max_devices = max_devices

    def runs(self, spec: WearSpec, period_s: float, now: float) -> list[np.ndarray]:
        found = self.history.histories(spec, now, self.window_s, self.max_devices)
        return training_runs(found, spec, period_s)


@dataclass(frozen=True)
class WearSettings:
    period_s: float = 3600.0
    """Feature rows per period of device time."""
    interval_s: float = 3600.0
    """How often every device is forecast."""
    window_s: float = 14 * 86_400.0
    """How much of a device's recent history a forecast reads."""
    retrain_s: float = 86_400.0
    min_runs: int = 8
    grid: SearchGrid | None = None
    """The model search (None: the full cross-validated search)."""


@dataclass
class _Trained:
    model: RulModel | None
    at: float
    training: Future[RulModel | None] | None = None


class WearForecaster:
    """``forecaster(now)`` -> forecasts when due, else nothing. Not thread-safe: the
    planning worker's thread calls it; models are fitted on a thread of their own."""

    def __init__(
        self,
        specs: Sequence[WearSpec],
        source: RunSource,
        history: RulHistory,
        owners: Owners,
        settings: WearSettings | None = None,
    ) -> None:
        self.specs = list(specs)
        self.source = source
        self.history = history
        self.owners = owners
        self.settings = settings or WearSettings()
        self._trained: dict[str, _Trained] = {}
        self._next_at = float("-inf")

    def __call__(self, now: float) -> list[FailureForecast]:
        if now < self._next_at:
            return []
        self._next_at = now + self.settings.interval_s
        forecasts: list[FailureForecast] = []
        for spec in self.specs:
            model = self._model(spec, now)
            if model is not None:
                forecasts += self._forecast(spec, model, now)
        return forecasts

    def train_now(self, now: float) -> None:
        """Fit every spec's model here and now (the command line, tests), rather than
        on the background thread the first forecast would start."""
        for spec in self.specs:
            self._trained[spec.model] = _Trained(self._train(spec, now), now)

    def _model(self, spec: WearSpec, now: float) -> RulModel | None:
        """The spec's current model; a (re)training due is started on a daemon thread,
        so forecasts, the rest of planning and shutdown never wait for a fit."""
        trained = self._trained.setdefault(spec.model, _Trained(None, float("-inf")))
        if trained.training is not None and trained.training.done():
            try:
                trained.model = trained.training.result() or trained.model
            except Exception:
                log.exception("rul model=%s training failed", spec.model)
            trained.training = None
        if trained.training is None and now >= trained.at + self.settings.retrain_s:
            trained.at = now
            trained.training = self._start_training(spec, now)
        return trained.model

    def _start_training(self, spec: WearSpec, now: float) -> Future[RulModel | None]:
        future: Future[RulModel | None] = Future()

        def train() -> None:
            try:
                future.set_result(self._train(spec, now))
            except Exception as exc:
                future.set_exception(exc)

        threading.Thread(target=train, name=f"rul-training-{spec.model}", daemon=True).start()
        return future

    def _train(self, spec: WearSpec, now: float) -> RulModel | None:
        runs = self.source.runs(spec, self.settings.period_s, now)
        if len(runs) < self.settings.min_runs:
            log.info(
                "rul model=%s not trained: %d runs of %d",
                spec.model,
                len(runs),
                self.settings.min_runs,
            )
            return None
        # One OpenMP thread: the fit shares the machine with scoring and ingest, and
        # gradient boosting's threads spin-wait on busy cores (tens of times slower).
        with threadpool_limits(limits=1):
            model = RulModel.fit(
                runs, condition_columns=condition_columns(spec), grid=self.settings.grid, seed=0
            )
        log.info("rul model=%s trained on %d runs: %s", spec.model, len(runs), model.choices)
        return model

    def _forecast(self, spec: WearSpec, model: RulModel, now: float) -> list[FailureForecast]:
        live = self.history.live(spec, now, self.settings.window_s)
        rows = {h.device_id: period_features(h, spec, self.settings.period_s) for h in live}
        # A device never under load in the window has nothing to judge its wear by.
        judged = [h for h in live if len(rows[h.device_id])]
        owners = self.owners([h.device_id for h in judged])
        with threadpool_limits(limits=1):  # see _train; one pass over the trees for all
            predicted = model.predict_many([rows[h.device_id] for h in judged])
        return [
            failure_forecast(
                spec,
                device,
                owners.get(device.device_id),
                now,
                prediction,
                len(rows[device.device_id]),
                self.settings.period_s,
                model.cap,
            )
            for device, prediction in zip(judged, predicted, strict=True)
        ]


def failure_forecast(
    spec: WearSpec,
    device: DeviceHistory,
    owner_id: str | None,
    now: float,
    predicted: RulPrediction,
    rows: int,
    period_s: float,
    horizon: float,
) -> FailureForecast:
    """A prediction in periods, made on ``rows`` period rows of ``device``'s history by a
    model whose cap is ``horizon`` periods, as the planner's forecast in seconds from
    ``now``. Pure: the forecaster's last step,
    and what a simulation that batches its predictions uses to ask the same question."""
    # Rows end at the period of the last sample: count from that sample.
    elapsed = max(0.0, now - float(device.ts[-1]))
    return FailureForecast(
        device_id=device.device_id,
        owner_id=owner_id,
        component=spec.component,
        signature=spec.failure.signature,
        at=now,
        median_s=max(0.0, predicted.median * period_s - elapsed),
        low_s=max(0.0, predicted.low * period_s - elapsed),
        high_s=max(0.0, predicted.high * period_s - elapsed),
        coverage=predicted.coverage,
        evidence={"periods_seen": rows, "period_s": period_s},
        horizon_s=horizon * period_s,
    )
