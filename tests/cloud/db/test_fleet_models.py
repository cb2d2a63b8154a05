"""ModelRegistry on every SQL dialect: versions, round trips, integrity and caching."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer
from sqlalchemy import Engine, update

from cloud.db.engine import migrate, open_engine
from cloud.db.fleet_models import ModelRegistry, directory_for
from cloud.db.schema import ml_models
from cloud.learning import FleetModel, ModelIntegrityError
from device_agent.clock import ManualClock
from tests.cloud.learning.fleet_data import MODEL, fleet, healthy, loose_connector


@pytest.fixture(scope="module")
def model() -> FleetModel:
    return FleetModel.fit(MODEL, fleet(seed=11, devices_n=5, per_device=300))


@pytest.fixture
def engine(any_database_url: str) -> Iterator[Engine]:
    engine = open_engine(any_database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_save_then_load_gives_identical_scores(
    engine: Engine, model: FleetModel, tmp_path: Path
) -> None:
    registry = ModelRegistry(engine, tmp_path, ManualClock())
    info = registry.save(model, trained_at=1_750_000_000.0, n_devices=5)
    assert (tmp_path / MODEL / "v1.skops").is_file()
    assert info.path == f"{MODEL}/v1.skops"
    assert info.sha256 == hashlib.sha256((tmp_path / info.path).read_bytes()).hexdigest()
    assert info.metrics == list(model.metrics)
    assert info.thresholds["t2"] == model.t2_limit

    loaded = registry.load(info)
    rng = np.random.default_rng(12)
    batch = model.matrix(healthy(rng, 200) + loose_connector(rng, 20))
    batch[::5, 0] = np.nan
    before, after = model.score_many(batch), loaded.score_many(batch)
    np.testing.assert_array_equal(before.score, after.score)
    np.testing.assert_array_equal(before.t2, after.t2)
    np.testing.assert_array_equal(before.residuals, after.residuals)
    assert loaded.metrics == model.metrics


def test_versions_increase_and_latest_follows_after_refresh(
    engine: Engine, model: FleetModel, tmp_path: Path
) -> None:
    clock = ManualClock()
    serving = ModelRegistry(engine, tmp_path, clock, refresh_s=60.0)
    training = ModelRegistry(engine, tmp_path, clock)  # another process, same database
    assert serving.latest(MODEL) is None  # cold start
    first = training.save(model, trained_at=clock.now(), n_devices=5)
    assert serving.latest(MODEL) is None  # cached "no model" until the refresh is due
    clock.advance(61)
    assert serving.latest(MODEL) is not None
    second = training.save(model, trained_at=clock.now(), n_devices=5)
    assert (first.version, second.version) == (1, 2)
    assert [i.version for i in serving.versions(MODEL)] == [1, 2]
    assert [(i.device_model, i.version) for i in serving.list_latest()] == [(MODEL, 2)]
    clock.advance(61)
    assert serving.latest(MODEL) is not None
    assert serving.latest_info(MODEL) == second
    assert serving.load_failures == 0


def test_a_tampered_file_is_refused_before_it_is_deserialised(
    engine: Engine, model: FleetModel, tmp_path: Path
) -> None:
    registry = ModelRegistry(engine, tmp_path, ManualClock())
    info = registry.save(model, trained_at=0.0, n_devices=5)
    path = tmp_path / info.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        registry.load(info)
    fresh = ModelRegistry(engine, tmp_path, ManualClock())
    assert fresh.latest(MODEL) is None  # refused, logged and counted; never raised
    assert fresh.load_failures == 1


def test_a_file_with_types_outside_the_trusted_list_is_refused(
    engine: Engine, model: FleetModel, tmp_path: Path
) -> None:
    registry = ModelRegistry(engine, tmp_path, ManualClock())
    info = registry.save(model, trained_at=0.0, n_devices=5)
    path = tmp_path / info.path
    payload = model.to_payload()
    payload["extra"] = FunctionTransformer(func=os.system)  # what an attacker would plant
    sio.dump(payload, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with engine.begin() as conn:  # even a file whose digest was "updated" to match
        conn.execute(update(ml_models).values(sha256=digest))
    with pytest.raises(ModelIntegrityError, match=r"untrusted types .*system"):
        registry.load(registry.versions(MODEL)[0])


def test_device_model_names_become_safe_folder_names() -> None:
    assert directory_for("heatpump-hp200") == "heatpump-hp200"
    for hostile in ("../../etc", "a/b", "", "Wallbox Pro (EU)"):
        folder = directory_for(hostile)
        assert "/" not in folder
        assert ".." not in folder
        assert folder
    assert directory_for("a/b") != directory_for("a_b")
