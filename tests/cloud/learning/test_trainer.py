"""Trainer against a real database: cold start, versions, sampling cap, window, schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from cloud.cli import main
from cloud.db.engine import migrate, open_engine
from cloud.db.fleet_history import FleetHistory
from cloud.db.fleet_models import ModelRegistry
from cloud.learning import NotEnoughHistory, Trainer
from cloud.scoring.retrain import retrain_forever
from device_agent.clock import ManualClock
from tests.cloud.learning.fleet_data import MODEL, T0, loose_connector, store_fleet

NOW = T0 + 3_000.0
"""Just after the stored history (200 samples every 10 s from T0)."""


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _trainer(
    engine: Engine, folder: Path, clock: ManualClock, max_samples: int = 200_000
) -> Trainer:
    registry = ModelRegistry(engine, folder, clock)
    return Trainer(
        FleetHistory(engine), registry, clock, window_s=86_400.0, max_samples=max_samples
    )


def test_cold_start_returns_no_model_and_says_why(engine: Engine, tmp_path: Path) -> None:
    trainer = _trainer(engine, tmp_path, ManualClock(NOW))
    with pytest.raises(NotEnoughHistory, match="0 samples from 0 devices"):
        trainer.train(MODEL)
    store_fleet(engine, devices_n=1, per_device=300)
    with pytest.raises(NotEnoughHistory, match="300 samples from 1 devices"):
        trainer.train(MODEL)
    result = trainer.train_all()
    assert result.reports == []
    assert "not enough history" in result.skipped[MODEL]
    assert trainer.store.latest(MODEL) is None
    assert list(tmp_path.iterdir()) == []


def test_no_model_until_the_history_spans_the_required_time(engine: Engine, tmp_path: Path) -> None:
    store_fleet(engine, devices_n=5, per_device=200)  # 2,000 s of history
    clock = ManualClock(NOW)
    trainer = Trainer(
        FleetHistory(engine), ModelRegistry(engine, tmp_path, clock), clock, min_span_s=86_400.0
    )
    with pytest.raises(NotEnoughHistory, match="86400 s of history are needed"):
        trainer.train(MODEL)
    clock.advance(86_400.0)
    trainer.window_s = 2 * 86_400.0
    assert trainer.train(MODEL).version == 1


def test_training_stores_increasing_versions_that_flag_faults(
    engine: Engine, tmp_path: Path
) -> None:
    store_fleet(engine, devices_n=5, per_device=200)
    clock = ManualClock(NOW)
    trainer = _trainer(engine, tmp_path, clock)
    first = trainer.train(MODEL)
    assert (first.version, first.samples, first.devices, first.available) == (1, 1000, 5, 1000)
    assert first.trained_at == NOW
    assert first.seconds > 0
    assert first.metrics == ["connector_temp", "current", "humidity", "power"]
    clock.advance(10)
    assert trainer.train(MODEL).version == 2
    model = trainer.store.latest(MODEL)
    assert model is not None
    fault = loose_connector(np.random.default_rng(1), 1)[0]
    assert model.score_one(fault).top_metric == "connector_temp"


def test_samples_are_capped_evenly_across_devices_and_window(
    engine: Engine, tmp_path: Path
) -> None:
    store_fleet(engine, devices_n=5, per_device=200)
    store_fleet(engine, devices_n=3, per_device=200, start=T0 - 10 * 86_400, prefix="old")
    history = FleetHistory(engine)
    window = history.window(MODEL, NOW - 86_400, NOW, max_samples=250)
    assert window.available == 1000  # the old devices' samples are outside the window
    assert len(window.samples) == 250
    per_device = {d: window.device_ids.count(d) for d in set(window.device_ids)}
    assert len(per_device) == 5
    assert set(per_device.values()) == {50}
    report = _trainer(engine, tmp_path, ManualClock(NOW), max_samples=600).train(MODEL)
    assert (report.samples, report.devices) == (500, 5)


def test_train_due_skips_fresh_models_and_the_loop_trains_on_schedule(
    engine: Engine, tmp_path: Path
) -> None:
    store_fleet(engine, devices_n=5, per_device=200)
    clock = ManualClock(NOW)
    trainer = _trainer(engine, tmp_path, clock)
    assert [r.version for r in trainer.train_due(max_age_s=3_600).reports] == [1]
    assert trainer.train_due(max_age_s=3_600).reports == []
    clock.advance(3_600)
    assert [r.version for r in trainer.train_due(max_age_s=3_600).reports] == [2]

    async def run_loop() -> None:
        task = asyncio.create_task(retrain_forever(trainer, clock, interval_s=3_600))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if len(trainer.store.list_latest()) and trainer.store.list_latest()[0].version >= 4:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run_loop())
    assert trainer.store.list_latest()[0].version >= 4


def test_cli_train_reports_cold_start_then_trains(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["cloud", "train", "--database-url", database_url, "--model-dir", str(tmp_path)]
    assert main([*args, "--model", MODEL]) == 1
    assert "not enough history" in capsys.readouterr().err
    store_fleet(engine, model="other", devices_n=1, per_device=10, start=time.time() - 500)
    store_fleet(engine, devices_n=3, per_device=200, start=time.time() - 2_500)  # real time
    assert main([*args, "--model", MODEL]) == 1, "by default a day of history is needed"
    assert "86400 s of history are needed" in capsys.readouterr().err
    monkeypatch.setenv("AFTERCARE_TRAIN_MIN_SPAN_S", "1000")  # the same setting as the service
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{MODEL}: v1 from 600 samples of 3 devices" in out
    assert "skipped: not enough history for device model 'other'" in out
    assert (tmp_path / MODEL / "v1.skops").is_file()
