"""Each device's product model for the ``model`` tag, looked up once per device by the
export's own thread, never by ingest.

A device whose model is not known yet (its first status message has not arrived, or the
database could not answer) is asked again after ``retry_s``, so its later points get the
tag; a lookup that fails is counted and said, never raised into the export.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("aftercare.export")

__all__ = ["DeviceModels"]


class DeviceModels:
    """Not thread-safe: owned by the export thread. Holds at most ``max_devices``
    entries (a churning fleet starts afresh beyond it rather than growing memory)."""

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        *,
        retry_s: float = 60.0,
        max_devices: int = 100_000,
    ) -> None:
        self.lookup = lookup
        self.retry_s = retry_s
        self.max_devices = max_devices
        self.errors = 0
        self._known: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}

    def model_of(self, device_id: str) -> str | None:
        known = self._known.get(device_id)
        if known is not None:
            return known
        now = time.monotonic()
        if now < self._retry_at.get(device_id, 0.0):
            return None
        try:
            model = self.lookup(device_id)
        except Exception as exc:
            self.errors += 1
            log.warning("device=%s model lookup failed, exported untagged: %s", device_id, exc)
            model = None
        if len(self._known) + len(self._retry_at) >= self.max_devices:
            self._known.clear()
            self._retry_at.clear()
        if model is None:
            self._retry_at[device_id] = now + self.retry_s
        else:
            self._known[device_id] = model
            self._retry_at.pop(device_id, None)
        return model
