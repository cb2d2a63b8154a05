"""The demo's wear-outs: a heat pump of the demo owner's whose compressor wears out over
device hours, and the reliability-test histories its remaining-life model learns from.

A fleet new to Aftercare has no failures of its own to learn from; a manufacturer has
run-to-failure histories from its test rigs. The demo stands in for those with the
simulator's own run-to-failure histories (another seed than the demo fleet), on the
same short clock as the demo's wear-out so it shows within minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cloud.rul.features import DeviceHistory, training_runs
from cloud.rul.wear_spec import WearSpec
from firmware_sim.faults import Fault
from firmware_sim.wearout import LifeSpread, run_to_failure, wear_out_fault

WEAR_MODEL = "heatpump-hp200"
LIFE = LifeSpread(scale_days=0.15, shape=2.5, min_days=0.1)
"""Compressor lives of hours once wear begins (device time): minutes in the demo."""
DEMO_TIME_TO_FAILURE_S = 3 * 3600.0
"""The demo owner's heat pump fails three device hours after the demo starts."""


@dataclass
class ReliabilityLab:
    """Run-to-failure histories of ``WEAR_MODEL`` (none of the other models: the demo's
    lab tested heat pumps only, so no charger is forecast)."""

    devices: int = 24
    seed: int = 7
    _cache: dict[float, list[np.ndarray]] = field(default_factory=dict)

    def runs(self, spec: WearSpec, period_s: float, now: float) -> list[np.ndarray]:
        if spec.model != WEAR_MODEL:
            return []
        if period_s not in self._cache:
            lab = run_to_failure(
                WEAR_MODEL,
                self.devices,
                seed=self.seed,
                interval_s=60.0,
                spread=LIFE,
                healthy_days=(0.2, 0.4),
                workers=1,
            )
            histories = [DeviceHistory(r.device_id, r.ts, r.metrics, r.failure_s) for r in lab]
            self._cache[period_s] = training_runs(histories, spec, period_s)
        return self._cache[period_s]


def demo_wear_out(start_s: float) -> Fault:
    """The compressor wear the demo owner's heat pump suffers from the demo's start."""
    return wear_out_fault(WEAR_MODEL, start_s, DEMO_TIME_TO_FAILURE_S)
