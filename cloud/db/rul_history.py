"""Reading run-to-failure histories from the fleet: the SQL edge of remaining useful life.

A device model's failures are its ``events`` of the wear spec's failure kind (the device
reports ``part_failed`` once, stamped with the moment the part gave out) whose detail names
the spec's signature. For each such device the samples of the ``window_s`` before its
(first) failure are its history, as :class:`cloud.rul.features.DeviceHistory` columns of
the spec's metrics only, ready for :func:`cloud.rul.features.training_runs`.

Bounded in the database: at most ``max_devices`` failures (the most recent), and per
device at most ``max_samples`` samples, thinned to an even stride with ``row_number()``
as :mod:`cloud.db.fleet_history` does, so a long history never crosses the wire in full.
Runs unchanged on SQLite (≥ 3.25) and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, select

from cloud.db.schema import devices, events, samples
from cloud.rul.features import DeviceHistory
from cloud.rul.wear_spec import WearSpec

__all__ = ["FailedDevice", "RulHistory"]


@dataclass(frozen=True)
class FailedDevice:
    """A device whose part failed, and when (its first failure of that signature)."""

    device_id: str
    failure_s: float


class RulHistory:
    """Read-only, thread-safe (one connection per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def failures(self, spec: WearSpec, until: float, max_devices: int) -> list[FailedDevice]:
        """Devices of ``spec.model`` that reported the spec's failure at or before
        ``until``, most recent first, at most ``max_devices``."""
        if max_devices < 1:
            raise ValueError("max_devices must be at least 1")
        query = (
            select(events.c.device_id, events.c.ts, events.c.detail)
            .select_from(events.join(devices, devices.c.id == events.c.device_id))
            .where(
                devices.c.model == spec.model,
                events.c.kind == spec.failure.event,
                events.c.ts <= until,
            )
            .order_by(events.c.device_id, events.c.ts)
        )
        first: dict[str, float] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                if _names(row.detail, spec.failure.signature) and row.device_id not in first:
                    first[str(row.device_id)] = float(row.ts)
        ranked = sorted(first.items(), key=lambda item: (-item[1], item[0]))[:max_devices]
        return [FailedDevice(device_id, ts) for device_id, ts in ranked]

    def histories(
        self,
        spec: WearSpec,
        until: float,
        window_s: float,
        max_devices: int = 200,
        max_samples: int = 20_000,
    ) -> list[DeviceHistory]:
        """The run-to-failure histories of ``spec.model``: per failed device (see
        :meth:`failures`) its samples in ``[failure - window_s, failure)``, at most
        ``max_samples`` at an even stride, with the failure time."""
        if not (math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be a positive number, not {window_s!r}")
        if max_samples < 2:
            raise ValueError("max_samples must be at least 2")
        names = sorted(spec.metrics())
        return [
            self._history(failed, window_s, max_samples, names)
            for failed in self.failures(spec, until, max_devices)
        ]

    def live(
        self, spec: WearSpec, now: float, window_s: float, max_samples: int = 5_000
    ) -> list[DeviceHistory]:
        """The recent history, ``[now - window_s, now]``, of every device of
        ``spec.model`` that reported in that window and has not reported the spec's
        failure in it (a failed part needs a visit, not a forecast)."""
        since = now - window_s
        failed = {f.device_id for f in self.failures(spec, now, 100_000) if f.failure_s >= since}
        query = select(devices.c.id).where(
            devices.c.model == spec.model, devices.c.last_seen >= since
        )
        with self.engine.connect() as conn:
            device_ids = sorted(str(d) for d in conn.scalars(query) if d not in failed)
        names = sorted(spec.metrics())
        return [
            DeviceHistory.from_samples(
                device_id,
                self._samples(device_id, since, now, max_samples, inclusive=True),
                None,
                names,
            )
            for device_id in device_ids
        ]

    def _history(
        self, failed: FailedDevice, window_s: float, max_samples: int, names: list[str]
    ) -> DeviceHistory:
        rows = self._samples(
            failed.device_id, failed.failure_s - window_s, failed.failure_s, max_samples
        )
        return DeviceHistory.from_samples(failed.device_id, rows, failed.failure_s, names)

    def _samples(
        self,
        device_id: str,
        since: float,
        until: float,
        max_samples: int,
        *,
        inclusive: bool = False,
    ) -> list[tuple[float, dict[str, float]]]:
        """The device's samples in ``[since, until)`` (or ``]`` when ``inclusive``), at
        most ``max_samples`` at an even stride, in time order."""
        where = and_(
            samples.c.device_id == device_id,
            samples.c.ts >= since,
            samples.c.ts <= until if inclusive else samples.c.ts < until,
        )
        with self.engine.connect() as conn:
            available = int(conn.scalar(select(func.count()).where(where)) or 0)
            stride = max(1, math.ceil(available / max_samples))
            numbered = (
                select(
                    samples.c.ts,
                    samples.c.metrics,
                    func.row_number().over(order_by=(samples.c.ts, samples.c.seq)).label("rn"),
                )
                .where(where)
                .subquery()
            )
            query = (
                select(numbered.c.ts, numbered.c.metrics)
                .where((numbered.c.rn - 1) % stride == 0)
                .order_by(numbered.c.rn)
                .limit(max_samples)
            )
            return [(float(r.ts), dict(r.metrics)) for r in conn.execute(query)]


def _names(detail: object, signature: str) -> bool:
    return isinstance(detail, Mapping) and detail.get("signature") == signature
