"""When a caller that keeps typing wrong claim codes may try again.

Claim codes cannot be guessed offline, but online guessing is only as slow as the API
lets it be: so an account and a client address each get ``limit`` wrong codes per sliding
``window_s``. The rule is pure; the failures it counts are kept in the database, so every
API process sees the same count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def retry_after_s(
    failures_at: Iterable[float], now: float, limit: int, window_s: float
) -> int | None:
    """Whole seconds until the caller may try again, or None when it may try now.

    ``failures_at`` are the times of the caller's wrong attempts (any order; those older
    than the window do not count). Once ``limit`` of them fall within the last
    ``window_s``, the caller waits until the oldest of its latest ``limit`` failures
    leaves the window: a sliding window, so a lock never outlasts ``window_s`` after the
    last wrong attempt, and attempts made while locked out (refused, not counted) do not
    extend it."""
    recent = sorted((t for t in failures_at if now - t < window_s), reverse=True)
    if len(recent) < limit:
        return None
    unlock_at = recent[limit - 1] + window_s
    return max(1, math.ceil(unlock_at - now))
