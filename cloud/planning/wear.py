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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

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


class WearForecaster:
    """``forecaster(now)`` -> forecasts when due, else nothing. Not thread-safe: the
    planning worker's thread calls it."""

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

    def _model(self, spec: WearSpec, now: float) -> RulModel | None:
        trained = self._trained.get(spec.model)
        if trained is not None and now < trained.at + self.settings.retrain_s:
            return trained.model
        runs = self.source.runs(spec, self.settings.period_s, now)
        model = None
        if len(runs) >= self.settings.min_runs:
            model = RulModel.fit(
                runs,
                condition_columns=condition_columns(spec),
                grid=self.settings.grid,
                seed=0,
            )
            log.info("rul model=%s trained on %d runs: %s", spec.model, len(runs), model.choices)
        else:
            log.info(
                "rul model=%s not trained: %d runs of %d",
                spec.model,
                len(runs),
                self.settings.min_runs,
            )
        self._trained[spec.model] = _Trained(model, now)
        return model

    def _forecast(self, spec: WearSpec, model: RulModel, now: float) -> list[FailureForecast]:
        live = self.history.live(spec, now, self.settings.window_s)
        owners = self.owners([h.device_id for h in live])
        return [
            forecast
            for device in live
            if (forecast := self._one(spec, model, device, owners.get(device.device_id), now))
        ]

    def _one(
        self,
        spec: WearSpec,
        model: RulModel,
        device: DeviceHistory,
        owner_id: str | None,
        now: float,
    ) -> FailureForecast | None:
        rows = period_features(device, spec, self.settings.period_s)
        if len(rows) == 0:
            return None  # never under load in the window: nothing to judge wear by
        predicted = model.predict(rows)
        return failure_forecast(
            spec, device, owner_id, now, predicted, len(rows), self.settings.period_s
        )


def failure_forecast(
    spec: WearSpec,
    device: DeviceHistory,
    owner_id: str | None,
    now: float,
    predicted: RulPrediction,
    rows: int,
    period_s: float,
) -> FailureForecast:
    """A prediction in periods, made on ``rows`` period rows of ``device``'s history, as
    the planner's forecast in seconds from ``now``. Pure: the forecaster's last step,
    and what a simulation that batches its predictions uses to ask the same question."""
    # Rows end at the period of the last sample: count from the end of that period.
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
    )
