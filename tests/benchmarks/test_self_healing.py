"""The self-healing benchmark end to end at a tiny size: its last line keeps the issue's
keys in order, nothing unsafe ever runs, and its scoring counts a fault healed only when
the simulator says it ended before the verdict."""

from __future__ import annotations

import dataclasses
import math

import pytest

from benchmarks import self_healing
from benchmarks.self_healing import Incident, Outcome, score
from firmware_sim.faults import Fault, FaultWindow

KEYS = [
    "healed_share",
    "median_verify_intervals",
    "first_fix_q1",
    "first_fix_q4",
    "escalated_unfixable",
    "false_healed",
    "unsafe_executed",
    "faults",
    "seconds",
    "first_fix_ceiling_q4",
]
T0 = 1_767_225_600.0


def test_a_tiny_run_prints_a_last_line_with_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    self_healing.main(
        ["--devices", "6", "--days", "1.5", "--warmup-hours", "12", "--faults-per-day", "3",
         "--attacks", "30"]
    )  # fmt: skip
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = dict(pair.split("=", 1) for pair in last.split())
    assert list(figures) == KEYS
    assert figures["unsafe_executed"] == "0"
    assert int(figures["faults"]) > 0
    ceiling = float(figures["first_fix_ceiling_q4"])
    assert math.isnan(ceiling) or 0.0 <= ceiling <= 1.0


def _window(
    device: str, start: float, end: float | None, *, fixable: bool
) -> tuple[str, FaultWindow]:
    fault = dataclasses.replace(
        Fault.from_signature("sensor-stuck/supply_temp_c", start), remote_fix=fixable
    )
    return device, FaultWindow(fault, fault.kind, fault.signature, start, end, None)


def test_a_fault_counts_healed_only_if_it_ended_before_the_verdict() -> None:
    signature = "sensor-stuck/supply_temp_c"
    cured = Incident(1, "hp-1", signature, T0 + 120, healed_at=T0 + 400, first_fix_verified=True)
    fooled = Incident(2, "hp-2", signature, T0 + 140, healed_at=T0 + 400, first_fix_verified=True)
    handed = Incident(3, "hp-3", signature, T0 + 130, escalated=True, first_fix_verified=False)
    outcome = Outcome(
        incidents=[cured, fooled, handed],
        faults=[
            _window("hp-1", T0, T0 + 300, fixable=True),  # cleared at 300, verified at 400
            _window("hp-2", T0, None, fixable=True),  # still there when "verified"
            _window("hp-3", T0, None, fixable=False),  # a broken part
        ],
        end_s=T0 + 3 * 86_400,
    )
    scores = score(outcome, interval_s=60.0)
    assert (scores.fixable, scores.healed, scores.false_healed) == (2, 1, 1)
    assert scores.verify_intervals == [(400 - 120) / 60]
    assert (scores.unfixable_found, scores.unfixable_escalated) == (1, 1)
    assert (scores.q1, scores.q4) == (1.0, 1.0)  # three judged: a quarter is one each
    assert scores.ceiling_q4 == pytest.approx(0.9)  # a stuck sensor's recalibration
