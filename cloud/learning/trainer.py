"""Training fleet models from stored telemetry: history in, a new stored version out.

I/O sits at the edges (a :class:`HistorySource` reads, a :class:`ModelStore` writes); the
fitting itself is :meth:`FleetModel.fit`. Time comes from the injected clock, so a
simulated fleet running faster than real time trains on its own notion of "last week".
Cold start is a normal outcome, not a failure: until a device model has enough history
(``min_samples`` from ``min_devices``) there is no model and the cloud runs on rules and
per-device baselines.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from cloud.learning.errors import LearningError, NotEnoughHistory
from cloud.learning.fleet_model import FitOptions, FleetModel
from cloud.learning.storage import HistorySource, ModelStore
from device_agent.clock import Clock

__all__ = ["Trainer", "TrainingReport", "TrainingRound"]

log = logging.getLogger("aftercare.learning")


@dataclass(frozen=True)
class TrainingReport:
    """What one training produced. ``seconds`` is compute time (monotonic, real), while
    ``trained_at`` is the injected clock's time."""

    device_model: str
    version: int
    samples: int
    devices: int
    available: int
    seconds: float
    trained_at: float
    metrics: list[str]
    thresholds: dict[str, float]


@dataclass(frozen=True)
class TrainingRound:
    """One pass over device models: the trained ones, and why the others were not."""

    reports: list[TrainingReport] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


class Trainer:
    """Fits and stores fleet models; safe to call from a worker thread."""

    def __init__(
        self,
        history: HistorySource,
        store: ModelStore,
        clock: Clock,
        *,
        window_s: float = 7 * 86_400.0,
        max_samples: int = 200_000,
        min_samples: int = 500,
        min_devices: int = 2,
        min_span_s: float = 0.0,
        options: FitOptions | None = None,
    ) -> None:
        self.history = history
        self.store = store
        self.clock = clock
        self.window_s = window_s
        self.max_samples = max_samples
        self.min_samples = min_samples
        self.min_devices = min_devices
        self.min_span_s = min_span_s
        """History must cover this much time (a full daily cycle, say) before a model is
        fitted: a model of one night's telemetry would call every morning an anomaly."""
        self.options = options or FitOptions()

    def train(self, device_model: str) -> TrainingReport:
        """Train and store the next version of ``device_model``'s fleet model.

        Raises :class:`NotEnoughHistory` (no model is stored) when the last ``window_s``
        hold fewer than ``min_samples`` samples or fewer than ``min_devices`` devices.
        """
        started = time.perf_counter()
        now = self.clock.now()
        span_s = self.history.span_s(device_model, now)
        if span_s < self.min_span_s:
            raise NotEnoughHistory(
                device_model,
                f"the fleet has reported for {span_s:.0f} s; {self.min_span_s:g} s of history "
                "are needed",
                samples=0,
                devices=0,
            )
        window = self.history.window(device_model, now - self.window_s, now, self.max_samples)
        if len(window.samples) < self.min_samples or window.n_devices < self.min_devices:
            raise NotEnoughHistory(
                device_model,
                f"{len(window.samples)} samples from {window.n_devices} devices in the last "
                f"{self.window_s:g} s; at least {self.min_samples} samples from "
                f"{self.min_devices} devices are needed",
                samples=len(window.samples),
                devices=window.n_devices,
            )
        model = FleetModel.fit(device_model, window.samples, self.options)
        info = self.store.save(model, trained_at=now, n_devices=window.n_devices)
        report = TrainingReport(
            device_model=device_model,
            version=info.version,
            samples=model.n_samples,
            devices=window.n_devices,
            available=window.available,
            seconds=time.perf_counter() - started,
            trained_at=now,
            metrics=list(model.metrics),
            thresholds=info.thresholds,
        )
        log.info(
            "model trained device_model=%s version=%d samples=%d devices=%d seconds=%.2f",
            device_model,
            report.version,
            report.samples,
            report.devices,
            report.seconds,
        )
        return report

    def train_all(self) -> TrainingRound:
        """Train every device model known to the registry of devices."""
        return self._train_each(self.history.device_models())

    def train_due(self, max_age_s: float) -> TrainingRound:
        """Train device models with no model yet or one older than ``max_age_s``, so a
        restarted cloud does not retrain what it trained an hour ago."""
        trained_at = {i.device_model: i.trained_at for i in self.store.list_latest()}
        now = self.clock.now()
        due = [
            m
            for m in self.history.device_models()
            if m not in trained_at or now - trained_at[m] >= max_age_s
        ]
        return self._train_each(due)

    def _train_each(self, device_models: list[str]) -> TrainingRound:
        round_ = TrainingRound()
        for device_model in device_models:
            try:
                round_.reports.append(self.train(device_model))
            except NotEnoughHistory as exc:
                round_.skipped[device_model] = str(exc)
                log.info("model not trained device_model=%s reason=%s", device_model, exc)
            except (LearningError, OSError) as exc:
                round_.skipped[device_model] = f"training failed: {exc}"
                log.error("model training failed device_model=%s", device_model, exc_info=True)
        return round_
