"""Detector state survives a restart: checkpoints are versioned data (never pickle), a
restored device scores exactly as one that never stopped, and a checkpoint carrying
anything but the detection classes is refused."""

from __future__ import annotations

import contextlib
import json
import math
import random
import zlib
from pathlib import Path

import pytest

from cloud.db.checkpoints import CheckpointStore
from cloud.db.incidents import IncidentFilter, IncidentStore
from cloud.db.records import StoredSample
from cloud.db.repositories import open_database
from cloud.db.telemetry import TelemetryStore
from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.profiles import profile_for
from cloud.scoring import checkpoint
from cloud.scoring.worker import ScoringWorker
from device_agent.clock import ManualClock
from firmware_sim.models import build_device

T0 = 1_767_225_600.0
STEP_S = 60.0
DAY = 1440


def _rows(
    device_id: str, start: int, n: int, stuck_from: int | None = None, step_from: int | None = None
) -> list[StoredSample]:
    """A heat pump's day; optionally its supply sensor freezes (a shape any detector
    sees at once) or reads 6 °C high (a step only a learned baseline can call wrong)."""
    rng = random.Random(start)
    rows, held = [], 0.0
    for i in range(start, start + n):
        hour = (i * STEP_S / 3600) % 24
        temp = 40 + 5 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 0.3)
        if step_from is not None and i >= step_from:
            temp += 6.0
        held = held if stuck_from is not None and i > stuck_from else temp
        metrics = {
            "supply_temp_c": round(held, 3),
            "current_a": round(2.5 + rng.gauss(0, 0.1), 3),
            "mem_free_kb": round(700 + rng.gauss(0, 5), 1),
            "energy_total_kwh": round(0.05 * i, 3),
        }
        rows.append(StoredSample(device_id, i, T0 + i * STEP_S, metrics))
    return rows


def _warm_diagnoser() -> DeviceDiagnoser:
    diagnoser = DeviceDiagnoser(profile_for("heatpump-hp200"))
    for row in _rows("d", 0, DAY + 200):
        diagnoser.observe(row.ts, row.metrics)
    return diagnoser


def test_a_restored_diagnoser_scores_exactly_as_one_that_never_stopped() -> None:
    running = _warm_diagnoser()
    blob = checkpoint.encode(checkpoint.DeviceState(running, {}, None))
    wire = {"profile": running.profile, "fleet_model": running.fleet_model}
    restored = checkpoint.decode(blob, wire).diagnoser
    later = _rows("d", DAY + 200, 600, stuck_from=DAY + 400)
    expected = [running.observe(r.ts, r.metrics) for r in later]
    assert [restored.observe(r.ts, r.metrics) for r in later] == expected
    assert any(expected), "the later rows do find the stuck sensor"


def test_the_checkpoint_layout_is_pinned() -> None:
    """Changing a detector's attributes changes what a checkpoint holds: bump
    checkpoint.VERSION (old checkpoints are then discarded, not misread) and pin the
    new digest here and in LAYOUT_DIGEST."""
    assert checkpoint.layout_digest(_warm_diagnoser()) == checkpoint.LAYOUT_DIGEST


@pytest.mark.parametrize(
    "planted",
    [
        {"o": "os.system", "id": 0, "a": {}},
        {"o": "subprocess.Popen", "id": 0, "a": {}},
        {"nd": "object", "shape": [1], "b": ""},
        {"ref": 7},
    ],
)
def test_a_checkpoint_naming_anything_else_is_refused(planted: dict[str, object]) -> None:
    blob = zlib.compress(json.dumps({"v": checkpoint.VERSION, "state": planted}).encode())
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.decode(blob, {})


def test_a_checkpoint_of_another_version_is_refused() -> None:
    blob = checkpoint.encode(checkpoint.DeviceState(_warm_diagnoser(), {}, None))
    payload = json.loads(zlib.decompress(blob))
    payload["v"] = checkpoint.VERSION + 1
    with pytest.raises(checkpoint.CheckpointError, match="version"):
        checkpoint.decode(zlib.compress(json.dumps(payload).encode()), {})


def test_after_a_restart_a_fault_is_found_with_the_same_delay(tmp_path: Path) -> None:
    """Two cloud lives share one database: the second resumes the first's detectors
    instead of spending a day learning again, so a day-2 fault opens on the same sample
    as in a cloud that never restarted."""

    databases = contextlib.ExitStack()

    def worker(url: str) -> ScoringWorker:
        engine = databases.enter_context(open_database(url))
        return ScoringWorker(
            TelemetryStore(engine),
            IncidentStore(engine),
            clock=ManualClock(T0),
            checkpoints=CheckpointStore(engine),
        )

    def opened(scorer: ScoringWorker) -> list[tuple[str, float]]:
        return sorted(
            (i.signature, i.opened_at) for i in scorer.incident_store.find(IncidentFilter())
        )

    day1 = _rows("hp-1", 0, DAY + 100)
    day2 = _rows("hp-1", DAY + 100, 400, step_from=DAY + 300)

    steady = worker(f"sqlite:///{tmp_path / 'steady.db'}")
    steady.score(day1)
    steady.score(day2)
    expected = opened(steady)
    assert expected, "the step is found by the learned baselines"

    restarted_url = f"sqlite:///{tmp_path / 'restarted.db'}"
    first_life = worker(restarted_url)
    first_life.score(day1)
    first_life.stop()  # never started: stop only writes its checkpoints
    assert first_life.stats.checkpoints_saved == 1
    second_life = worker(restarted_url)
    second_life.score(day2)
    assert second_life.stats.checkpoints_restored == 1
    assert opened(second_life) == expected

    cold = worker(f"sqlite:///{tmp_path / 'cold.db'}")
    cold.score(day2)  # what a restart without checkpoints sees: a device it never met
    assert opened(cold) == [], "without the checkpoint the baselines would be learning again"
    databases.close()


def test_a_two_day_heat_pump_checkpoint_stays_small() -> None:
    """Checkpoints are written for every device every few minutes: a 16-metric heat
    pump's whole state after two days must stay a few hundred kilobytes (tails keep only
    the values that can still matter to their fit, seasonal profiles 5-minute bins; it
    was 1.4 MiB with full value histories). Measured 345 KiB."""
    clock = ManualClock(T0)
    device = build_device("heatpump-hp200", "hp-0001", clock, 1)
    diagnoser = DeviceDiagnoser(profile_for("heatpump-hp200"))
    for _ in range(2 * DAY):
        diagnoser.observe(clock.now(), device.read_metrics())
        clock.advance(STEP_S)
    assert len(device.read_metrics()) == 16
    blob = checkpoint.encode(checkpoint.DeviceState(diagnoser, {}, None))
    print(f"two-day heat pump checkpoint: {len(blob) / 1024:.1f} KiB")
    assert len(blob) < 400 * 1024
