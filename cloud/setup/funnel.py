"""The activation funnel: how far a fleet's devices got through setup, where they stop,
how long activation takes and which self-check fails most. Pure: setup states in,
figures out; the service team and the manufacturer read it."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from cloud.setup.state import SetupState

__all__ = ["Funnel", "StepCount", "funnel"]


@dataclass(frozen=True)
class StepCount:
    id: str
    done: int
    """Devices that have this step done."""
    drop_off: int
    """Devices for which this is the first step not done: where they stopped."""


@dataclass(frozen=True)
class Funnel:
    devices: int
    steps: tuple[StepCount, ...]
    activated: int
    median_time_to_activate_s: float | None
    """From the claim to the last step done, over activated devices that were claimed."""
    most_common_failing_check: tuple[str, int] | None
    """The self-check failing (latest run) on most devices, and on how many."""


def funnel(devices: Iterable[tuple[SetupState, float | None]]) -> Funnel:
    """Over (setup state, claimed_at) per device. Step order is the checklists' (a mixed
    fleet lists each step id once, where it first appears)."""
    order: dict[str, None] = {}
    done: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    durations: list[float] = []
    count = activated = 0
    for state, claimed_at in devices:
        count += 1
        for step in state.steps:
            order.setdefault(step.step.id)
            done[step.step.id] += step.state == "done"
        first_open = next((s.step.id for s in state.steps if s.state != "done"), None)
        if first_open is None:
            activated += 1
            if claimed_at is not None and state.activated_at is not None:
                durations.append(max(0.0, state.activated_at - claimed_at))
        else:
            dropped[first_open] += 1
        failing.update(list(state.failing_checks))
    common = failing.most_common(1)
    return Funnel(
        devices=count,
        steps=tuple(StepCount(i, done[i], dropped[i]) for i in order),
        activated=activated,
        median_time_to_activate_s=statistics.median(durations) if durations else None,
        most_common_failing_check=common[0] if common else None,
    )
