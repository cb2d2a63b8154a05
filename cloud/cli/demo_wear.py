"""The demo's wear-outs: a heat pump of the demo owner's whose compressor wears out over
device hours, and the reliability-test histories its remaining-life model learns from.

A fleet new to Aftercare has no failures of its own to learn from; a manufacturer has
run-to-failure histories from its test rigs. The demo stands in for those with the
simulator's own run-to-failure histories (another seed than the demo fleet), on the
same short clock as the demo's wear-out so it shows within minutes.
"""

from __future__ import annotations

from cloud.harness.reliability import SimulatedLab
from firmware_sim.faults import Fault
from firmware_sim.wearout import LifeSpread, wear_out_fault

WEAR_MODEL = "heatpump-hp200"
LIFE = LifeSpread(scale_days=0.15, shape=2.5, min_days=0.1)
"""Compressor lives of hours once wear begins (device time): minutes in the demo."""
DEMO_TIME_TO_FAILURE_S = 3 * 3600.0
"""The demo owner's heat pump fails three device hours after the demo starts."""


def reliability_lab() -> SimulatedLab:
    """Run-to-failure histories of ``WEAR_MODEL`` only: the demo's lab tested heat
    pumps, so no charger is forecast."""
    return SimulatedLab([WEAR_MODEL], LIFE)


def demo_wear_out(start_s: float) -> Fault:
    """The compressor wear the demo owner's heat pump suffers from the demo's start."""
    return wear_out_fault(WEAR_MODEL, start_s, DEMO_TIME_TO_FAILURE_S)
