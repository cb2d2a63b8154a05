"""The scoring worker keeps per-device state only for devices that are alive."""

from __future__ import annotations

from pathlib import Path

from cloud.db.incidents import IncidentStore
from cloud.db.records import StoredSample
from cloud.db.repositories import open_database
from cloud.db.telemetry import TelemetryStore
from cloud.scoring.worker import ScoringWorker
from device_agent.clock import ManualClock

T0 = 1_750_000_000.0
DAY_S = 86_400.0


def _samples(device_id: str, start: float, n: int) -> list[StoredSample]:
    return [StoredSample(device_id, i, start + 60 * i, {"t": 20.0 + i % 3}) for i in range(n)]


def test_state_of_a_silent_device_is_dropped_after_the_idle_time(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    with open_database(f"sqlite:///{tmp_path / 'a.db'}") as engine:
        worker = ScoringWorker(
            TelemetryStore(engine), IncidentStore(engine), clock=clock, idle_s=DAY_S
        )
        worker.score(_samples("quiet", T0, 20))
        worker.score(_samples("busy", T0, 20))
        assert worker.stats.scored == 40
        clock.advance(0.6 * DAY_S)
        worker.score(_samples("busy", T0 + 0.6 * DAY_S, 5))
        worker.evict_idle()
        assert worker.stats.evicted == 0
        clock.advance(0.6 * DAY_S)  # "quiet" has now been silent for 1.2 days
        worker.score(_samples("busy", T0 + 1.2 * DAY_S, 5))
        worker.evict_idle()
        assert worker.stats.evicted == 1
        assert worker.tracked_devices == {"busy"}
