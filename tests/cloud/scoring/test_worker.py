"""The scoring worker keeps per-device state only for devices that are alive, and does not
let a device's detectors learn a fault its open incident is about."""

from __future__ import annotations

from pathlib import Path

from cloud.db.incidents import IncidentFilter, IncidentStore
from cloud.db.records import StoredSample
from cloud.db.repositories import open_database
from cloud.db.telemetry import TelemetryStore
from cloud.scoring.worker import ScoringWorker
from device_agent.clock import ManualClock
from tests.cloud.scoring.test_checkpoint import DAY, _rows

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


def test_an_incident_stays_open_while_its_fault_lasts(tmp_path: Path) -> None:
    """A supply sensor reads 6 °C high from day 2 on, for twelve hours: only a learned
    baseline can call that wrong, and it would learn it as the new normal within hours
    (the incident closing with the fault still there). The worker holds the metric of
    the open incident, so the incident stays open the whole time."""
    with open_database(f"sqlite:///{tmp_path / 'a.db'}") as engine:
        worker = ScoringWorker(TelemetryStore(engine), IncidentStore(engine), clock=ManualClock(T0))
        worker.score(_rows("hp-1", 0, DAY + 100))
        step = _rows("hp-1", DAY + 100, 12 * 60, step_from=DAY + 100)
        for at in range(0, len(step), 10):  # as telemetry arrives, a few samples a batch
            worker.score(step[at : at + 10])
        incidents = worker.incident_store.find(IncidentFilter())
        assert len(incidents) == 1, [(i.signature, i.status) for i in incidents]
        assert incidents[0].status == "open"
        assert incidents[0].signature.endswith("/supply_temp_c")
