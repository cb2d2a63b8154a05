"""Synthetic fleet telemetry for the learning tests: an EV charger whose connector
temperature follows its current (temp ≈ 25 + offset + 1.5·current), with power ≈ 230·current
and an unrelated ambient humidity. A loose connector shows as a hot connector at low
current: every metric alone stays in its usual range, only the relationship breaks."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine

from cloud.db.schema import devices, samples

MODEL = "evc-22"
T0 = 1_750_000_000.0


def healthy(rng: np.random.Generator, n: int, offset: float = 0.0) -> list[dict[str, float]]:
    current = rng.uniform(5.0, 30.0, n)
    power = 230.0 * current + rng.normal(0.0, 60.0, n)
    temp = 25.0 + offset + 1.5 * current + rng.normal(0.0, 0.8, n)
    humidity = rng.normal(50.0, 8.0, n)
    return [
        {"connector_temp": t, "current": c, "humidity": h, "power": p}
        for t, c, h, p in zip(temp, current, humidity, power, strict=True)
    ]


def loose_connector(rng: np.random.Generator, n: int) -> list[dict[str, float]]:
    """Hot connector while the current is low: each value within the healthy range."""
    current = rng.uniform(7.0, 10.0, n)
    return [
        {
            "connector_temp": 25.0 + 1.5 * 28.0 + float(rng.normal(0.0, 0.8)),
            "current": float(c),
            "humidity": float(rng.normal(50.0, 3.0)),
            "power": 230.0 * float(c) + float(rng.normal(0.0, 60.0)),
        }
        for c in current
    ]


def fleet(seed: int, devices_n: int, per_device: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    out: list[dict[str, float]] = []
    for d in range(devices_n):
        out.extend(healthy(rng, per_device, offset=float(d % 5) - 2.0))
    return out


def store_fleet(
    engine: Engine,
    *,
    model: str = MODEL,
    devices_n: int = 5,
    per_device: int = 200,
    start: float = T0,
    interval_s: float = 10.0,
    seed: int = 7,
    prefix: str = "dev",
) -> None:
    """Register ``devices_n`` devices of ``model`` and store their samples directly."""
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        for d in range(devices_n):
            device_id = f"{prefix}-{model}-{d}"
            conn.execute(
                devices.insert().values(
                    id=device_id,
                    model=model,
                    firmware="1.0",
                    online=True,
                    first_seen=start,
                    last_seen=start + per_device * interval_s,
                    dropped_total=0,
                )
            )
            rows = healthy(rng, per_device, offset=float(d % 5) - 2.0)
            conn.execute(
                samples.insert(),
                [
                    {"device_id": device_id, "seq": i, "ts": start + i * interval_s, "metrics": m}
                    for i, m in enumerate(rows)
                ],
            )
