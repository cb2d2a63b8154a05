"""Run-to-failure histories from the simulator, standing in for a manufacturer's test
rigs: what a cloud's remaining-life model learns from before its own fleet has failed.

A fleet new to Aftercare has no failures of its own; a manufacturer has rig histories of
the same part. The demo and scenarios with a ``reliability_lab`` give their in-process
cloud such histories: the simulator's own run-to-failure runs of the model, on another
seed than the fleet, with the same life spread.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from cloud.rul.features import DeviceHistory, training_runs
from cloud.rul.wear_spec import WearSpec
from firmware_sim.wearout import LifeSpread, run_to_failure

__all__ = ["SimulatedLab"]


@dataclass
class SimulatedLab:
    """Histories of ``devices`` rig units per model in ``models`` (none of any other:
    the lab tested those only). A :class:`~cloud.planning.wear.RunSource`."""

    models: Collection[str]
    spread: LifeSpread
    devices: int = 24
    seed: int = 7
    interval_s: float = 60.0
    healthy_days: tuple[float, float] = (0.2, 0.4)
    magnitude: float = 1.0
    _cache: dict[tuple[str, float], list[np.ndarray]] = field(default_factory=dict)

    def runs(self, spec: WearSpec, period_s: float, now: float) -> list[np.ndarray]:
        if spec.model not in self.models:
            return []
        key = (spec.model, period_s)
        if key not in self._cache:
            lab = run_to_failure(
                spec.model,
                self.devices,
                seed=self.seed,
                interval_s=self.interval_s,
                spread=self.spread,
                healthy_days=self.healthy_days,
                magnitude=self.magnitude,
                workers=1,
            )
            histories = [DeviceHistory(r.device_id, r.ts, r.metrics, r.failure_s) for r in lab]
            self._cache[key] = training_runs(histories, spec, period_s)
        return self._cache[key]
