"""Run-to-failure histories read back from the fleet's store, on every SQL dialect: only
devices of the model that reported the spec's failure, only samples before it, bounded."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine

from cloud.db.engine import migrate, open_engine
from cloud.db.rul_history import RulHistory
from cloud.db.telemetry import TelemetryStore
from cloud.ingest.triage import RawMessage, triage
from cloud.rul.features import feature_names, training_runs
from cloud.rul.wear_spec import load_wear_spec
from device_agent import contract
from device_agent.contract import Channel
from firmware_sim.wearout import LifeSpread, RunToFailure, run_to_failure

HP = "heatpump-hp200"
HOUR_S = 3_600.0


@pytest.fixture
def engine(any_database_url: str) -> Iterator[Engine]:
    engine = open_engine(any_database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def runs() -> list[RunToFailure]:
    spread = LifeSpread(scale_days=1.5, shape=3.0, min_days=1.0)
    return run_to_failure(HP, 3, seed=9, spread=spread, healthy_days=(0.5, 1.0), workers=1)


def message(device_id: str, channel: Channel, payload: contract._Message, now: float) -> RawMessage:
    return RawMessage(contract.topic(device_id, channel), contract.encode(payload), now)


def store_run(store: TelemetryStore, run: RunToFailure, model: str, failed: bool) -> None:
    """What the device's agent would have sent: its status, its samples, the failure (and
    telemetry of the broken device after it)."""
    now = float(run.ts[0])
    messages = [
        message(
            run.device_id,
            Channel.STATUS,
            contract.Status(device_id=run.device_id, online=True, ts=now, model=model),
            now,
        )
    ]
    names = list(run.metrics)
    ts = [*run.ts, run.failure_s + 600.0]  # one sample after the failure, to be left out
    samples = [
        contract.Sample(
            seq=i,
            ts=float(t),
            metrics={n: float(run.metrics[n][min(i, len(run.ts) - 1)]) for n in names},
        )
        for i, t in enumerate(ts)
    ]
    for start in range(0, len(samples), contract.MAX_SAMPLES_PER_BATCH):
        batch = contract.TelemetryBatch(
            device_id=run.device_id, samples=samples[start : start + contract.MAX_SAMPLES_PER_BATCH]
        )
        messages.append(message(run.device_id, Channel.TELEMETRY, batch, now))
    if failed:
        event = contract.Event(
            device_id=run.device_id,
            event_id=f"fail-{run.device_id[-4:]}",
            kind="part_failed",
            ts=run.failure_s,
            detail={"component": "compressor", "signature": "wear-out/compressor"},
        )
        messages.append(message(run.device_id, Channel.EVENTS, event, now))
    store.apply(triage(messages, now))


def test_histories_of_failed_devices_end_at_their_failure_and_are_bounded(engine, runs):
    store = TelemetryStore(engine)
    store_run(store, runs[0], HP, failed=True)
    store_run(store, runs[1], HP, failed=True)
    store_run(store, runs[2], HP, failed=False)  # still working: not a run to failure
    spec = load_wear_spec(HP)
    history = RulHistory(engine)
    until = max(r.failure_s for r in runs) + 86_400

    failures = history.failures(spec, until, max_devices=10)
    assert sorted(f.device_id for f in failures) == sorted(r.device_id for r in runs[:2])
    assert {f.device_id: f.failure_s for f in failures} == {
        r.device_id: r.failure_s for r in runs[:2]
    }
    assert len(history.failures(spec, until, max_devices=1)) == 1
    assert history.failures(spec, min(r.failure_s for r in runs) - 1, max_devices=10) == []

    window_s = 30 * 86_400.0
    histories = {h.device_id: h for h in history.histories(spec, until, window_s)}
    for run in runs[:2]:
        got = histories[run.device_id]
        assert got.failure_s == run.failure_s
        np.testing.assert_allclose(got.ts, run.ts)  # the sample after the failure is not read
        assert set(got.metrics) == spec.metrics()
        np.testing.assert_allclose(got.metrics["cop"], run.metrics["cop"])

    thinned = history.histories(spec, until, window_s, max_samples=50)
    assert all(25 <= len(h.ts) <= 50 for h in thinned)
    recent = history.histories(spec, until, window_s=6 * HOUR_S)
    assert all(h.ts[0] >= h.failure_s - 6 * HOUR_S for h in recent)

    rows = training_runs(history.histories(spec, until, window_s), spec, HOUR_S)
    assert len(rows) == 2
    assert all(r.shape[1] == len(feature_names(spec)) and np.isfinite(r).all() for r in rows)


def test_other_models_and_other_signatures_are_not_failures(engine, runs):
    store = TelemetryStore(engine)
    store_run(store, runs[0], "heatpump-hp300", failed=True)
    spec = load_wear_spec(HP)
    history = RulHistory(engine)
    assert history.failures(spec, runs[0].failure_s + 1, max_devices=10) == []
    with pytest.raises(ValueError, match="window_s"):
        history.histories(spec, 0.0, window_s=0.0)
    with pytest.raises(ValueError, match="max_devices"):
        history.failures(spec, 0.0, max_devices=0)
