"""Which device ids ingest accepts when only factory-registered devices may report.

The registry lookup is one primary-key query; ingest asks for every message, so answers
are remembered: a registered device stays registered for good, and an unknown id is
asked about again after ``forget_unknown_s`` (a batch imported meanwhile is picked up,
and a flood of made-up ids costs one query per id per period, not per message).
"""

from __future__ import annotations

import time
from collections.abc import Callable

FORGET_UNKNOWN_S = 10.0


class RegisteredDevices:
    def __init__(
        self,
        is_known: Callable[[str], bool],
        forget_unknown_s: float = FORGET_UNKNOWN_S,
        monotonic: Callable[[], float] = time.monotonic,
        max_unknown: int = 100_000,
    ) -> None:
        self._is_known = is_known
        self._forget_unknown_s = forget_unknown_s
        self._monotonic = monotonic
        self._max_unknown = max_unknown
        self._known: set[str] = set()
        self._unknown_until: dict[str, float] = {}

    def __call__(self, device_id: str) -> bool:
        if device_id in self._known:
            return True
        now = self._monotonic()
        if self._unknown_until.get(device_id, -1.0) > now:
            return False
        if self._is_known(device_id):
            self._known.add(device_id)
            self._unknown_until.pop(device_id, None)
            return True
        if len(self._unknown_until) >= self._max_unknown:
            self._unknown_until.clear()  # bounded memory under a flood of made-up ids
        self._unknown_until[device_id] = now + self._forget_unknown_s
        return False
