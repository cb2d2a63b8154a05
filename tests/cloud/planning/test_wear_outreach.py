"""A device that is wearing out is raised to its owner at least the configured lead time
before its simulated failure: simulator wear, telemetry stored as ingest stores it, a
remaining-life model trained on run-to-failure histories, the planner and the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from cloud.db.engine import migrate, open_engine
from cloud.db.outreach import OutreachStore
from cloud.db.outreach_facts import OutreachFacts
from cloud.db.planner_marks import PlannerMarks
from cloud.db.rul_history import RulHistory
from cloud.db.telemetry import TelemetryStore
from cloud.harness.reliability import SimulatedLab
from cloud.ingest.triage import RawMessage, triage
from cloud.outreach.planner import OutreachPolicy
from cloud.planning.wear import WearForecaster, WearSettings
from cloud.planning.worker import PlanningWorker
from cloud.rul.features import DeviceHistory
from cloud.rul.search import SearchGrid
from cloud.rul.wear_spec import load_wear_spec
from device_agent import contract
from device_agent.clock import ManualClock
from device_agent.contract import Channel
from firmware_sim.models import build_device
from firmware_sim.wearout import LifeSpread, run_to_failure

HP = "heatpump-hp200"
DAY_S = 86_400.0
PERIOD_S = 3600.0
STEP_S = DAY_S
"""Forecasts every device day, over hourly feature rows."""
INTERVAL_S = 600.0
SPREAD = LifeSpread()  # weeks of wear before the compressor gives out
LEAD_S = 2 * DAY_S


def reliability_lab() -> SimulatedLab:
    """Run-to-failure histories of another population, as a manufacturer would have."""
    return SimulatedLab([HP], SPREAD, devices=10, seed=1, interval_s=INTERVAL_S,
                        healthy_days=(1.0, 5.0))  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite: the reads are tested on every dialect beside their stores; this is the loop."""
    engine = open_engine(f"sqlite:///{tmp_path / 'planning.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def _report(store: TelemetryStore, run: DeviceHistory, first: int, last: int, now: float) -> None:
    samples = [
        contract.Sample(
            seq=i,
            ts=float(run.ts[i]),
            metrics={name: float(values[i]) for name, values in run.metrics.items()},
        )
        for i in range(first, last)
    ]
    messages = []
    if first == 0:
        status = contract.Status(device_id=run.device_id, online=True, ts=now, model=HP)
        messages.append(_raw(run.device_id, Channel.STATUS, status, now))
    for start in range(0, len(samples), contract.MAX_SAMPLES_PER_BATCH):
        chunk = samples[start : start + contract.MAX_SAMPLES_PER_BATCH]
        batch = contract.TelemetryBatch(device_id=run.device_id, samples=chunk)
        messages.append(_raw(run.device_id, Channel.TELEMETRY, batch, now))
    if messages:
        store.apply(triage(messages, now))


def _sound(start_s: float, until_s: float) -> DeviceHistory:
    """A heat pump with nothing wearing, read every minute over the same span."""
    clock = ManualClock(start_s)
    device = build_device(HP, "heatpump-hp200-sound", clock, 43)
    times = np.arange(start_s, until_s, INTERVAL_S)
    rows = []
    for t in times:
        clock.advance(float(t) - clock.now())
        rows.append(device.read_metrics())
    metrics = {name: np.array([row[name] for row in rows]) for name in rows[0]}
    return DeviceHistory(device.device_id, times, metrics)


def _raw(device_id: str, channel: Channel, payload: contract.Message, now: float) -> RawMessage:
    return RawMessage(contract.topic(device_id, channel), contract.encode(payload), now)


def test_a_wearing_device_is_raised_at_least_the_lead_time_before_it_fails(
    engine: Engine,
) -> None:
    (run,) = run_to_failure(HP, 1, seed=42, interval_s=INTERVAL_S, spread=SPREAD, workers=1,
                            healthy_days=(2.0, 2.0))  # fmt: skip
    wearing = DeviceHistory(run.device_id, run.ts, run.metrics, run.failure_s)
    assert wearing.failure_s is not None
    sound = _sound(float(wearing.ts[0]), wearing.failure_s)
    clock = ManualClock(float(wearing.ts[0]))
    telemetry = TelemetryStore(engine)
    outreach = OutreachStore(engine, clock)
    facts = OutreachFacts(engine)
    forecaster = WearForecaster(
        [load_wear_spec(HP)],
        reliability_lab(),
        RulHistory(engine),
        facts.owners_of,
        WearSettings(
            period_s=PERIOD_S,
            interval_s=STEP_S,
            window_s=30 * DAY_S,
            min_runs=8,
            grid=SearchGrid.small(),
        ),
    )
    forecaster.train_now(clock.now())
    worker = PlanningWorker(
        facts,
        outreach,
        PlannerMarks(engine),
        clock,
        forecasts=forecaster,
        policy=OutreachPolicy(lead_time_s=LEAD_S, arrange_s=DAY_S / 4),
    )
    reported = {wearing.device_id: 0, sound.device_id: 0}
    for device in (wearing, sound):
        _report(telemetry, device, 0, 1, clock.now())
        reported[device.device_id] = 1
        telemetry.set_owner(device.device_id, "ann")
    raised_at = None
    while clock.now() < wearing.failure_s:
        clock.advance(STEP_S)
        for device in (wearing, sound):
            upto = int(np.searchsorted(device.ts, clock.now(), side="right"))
            _report(telemetry, device, reported[device.device_id], upto, clock.now())
            reported[device.device_id] = upto
        if worker.plan_once() and raised_at is None:
            raised_at = clock.now()
    assert raised_at is not None, "the wearing device was never raised"
    ahead_h = (wearing.failure_s - raised_at) / 3600
    assert raised_at <= wearing.failure_s - LEAD_S, f"raised only {ahead_h:.1f} h ahead"
    items = outreach.items(owner_id="ann")
    assert [i.device_id for i in items] == [wearing.device_id], "the sound one is left alone"
    (item,) = items
    assert item.kind == "wear_out"
    assert item.predicted_failure_at is not None
    assert "compressor is wearing out" in item.reason
    assert item.slots, "visit slots come with it"
