"""Which fix to try first, learned across the fleet: a Beta posterior of each fix's
verified success per (device model, signature, action), chosen by Thompson sampling.

Why Thompson sampling: it tries the fix most likely to work most of the time, and still
now and then tries one whose record is short, so a fix that only the playbook's order
kept from being tried gets its chance. Every outcome is a verified one (the telemetry's
verdict), never the device's word.

The prior follows the playbook: the fix an engineer listed first starts slightly ahead
(half a success per place), so with no outcomes yet the playbook's order is followed most
of the time, and a few outcomes outweigh it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FixKey", "FixRecord", "choose"]

FixKey = tuple[str, str, str]
"""(device model, signature, action)."""
ORDER_PRIOR = 0.5


@dataclass
class FixRecord:
    """Verified outcomes of one fix for one model and signature."""

    successes: int = 0
    failures: int = 0

    @property
    def tried(self) -> int:
        return self.successes + self.failures

    def success_rate(self) -> float | None:
        return self.successes / self.tried if self.tried else None


def posterior(record: FixRecord, place: int, places: int) -> tuple[float, float]:
    """Beta(α, β) of a fix at ``place`` (0 = first) of ``places`` in the playbook."""
    head_start = ORDER_PRIOR * (places - 1 - place)
    return 1.0 + head_start + record.successes, 1.0 + record.failures


def choose(candidates: Sequence[tuple[int, FixRecord]], places: int, rng: random.Random) -> int:
    """The playbook place of the fix to try, among ``(place, record)`` candidates."""
    if not candidates:
        raise ValueError("no candidate fix to choose from")
    best_place, best_draw = candidates[0][0], -1.0
    for place, record in candidates:
        alpha, beta = posterior(record, place, places)
        draw = rng.betavariate(alpha, beta)
        if draw > best_draw:
            best_place, best_draw = place, draw
    return best_place
