"""Local self-heal: the device fixes what it can on its own, never in a loop, and tells
the cloud once the link is back."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.db.schema import events
from device_agent.agent import SELF_CHECK_RUNS, Agent
from device_agent.clock import SystemClock
from device_agent.contract import Scalar
from device_agent.hal import ActionOutcome
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from device_agent.watchdog import Watchdog, WatchdogRule
from tests.conftest import Broker, cloud_settings, running_cloud, wait_until

RULE = WatchdogRule("dead_link", "reset_radio", cooldown_s=60.0, breaker_after=2)


def test_a_rule_fires_at_most_once_per_cooldown() -> None:
    dog = Watchdog((RULE,))
    assert [f.action for f in dog.check(0.0, {"dead_link": True})] == ["reset_radio"]
    assert dog.check(30.0, {"dead_link": True}) == []
    assert [f.action for f in dog.check(61.0, {"dead_link": True})] == ["reset_radio"]


def test_a_fix_that_does_not_work_trips_the_breaker_until_the_symptom_clears() -> None:
    dog = Watchdog((RULE,))
    dog.check(0.0, {"dead_link": True})
    dog.check(60.0, {"dead_link": True})
    (tripped,) = dog.check(120.0, {"dead_link": True})
    assert (tripped.action, tripped.event) == (None, "self_heal.breaker_open")
    assert dog.check(10_000.0, {"dead_link": True}) == [], "never loops"
    (recovered,) = dog.check(10_060.0, {"dead_link": False})
    assert recovered.event == "self_heal.recovered"
    assert [f.action for f in dog.check(10_120.0, {"dead_link": True})] == ["reset_radio"]


def test_thinning_the_outbox_keeps_the_span_and_counts_what_went() -> None:
    outbox = Outbox(":memory:", max_samples=1000)
    for i in range(100):
        outbox.append(1_780_000_000.0 + i, {"t": float(i)})
    assert outbox.thin_oldest() == 25
    seqs = [s.seq for s in outbox.pending(limit=1000)]
    assert seqs[0] == 0, "the oldest sample stays"
    assert seqs[:5] == [0, 2, 4, 6, 8]
    assert seqs[-50:] == list(range(50, 100)), "the newer half is untouched"
    assert outbox.dropped_total == 25


class _Radio:
    model = "boiler-b1"
    firmware = "1.0"

    def __init__(self) -> None:
        self.resets = 0

    def read_metrics(self) -> dict[str, float]:
        return {"temp_c": 40.0}

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        assert action == "reset_radio"
        self.resets += 1
        return ActionOutcome(True, "radio reset")

    def facts(self) -> dict[str, Scalar]:
        return {}


@pytest.mark.e2e
async def test_with_the_broker_down_the_device_resets_its_radio_and_reports_it_later(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    broker.kill()  # the link is dead from the start
    radio = _Radio()
    settings = AgentSettings(
        device_id="boiler-1",
        mqtt_url=broker.url,
        telemetry_interval_s=0.1,
        flush_interval_s=0.1,
        reconnect_min_s=0.1,
        reconnect_max_s=0.3,
        outbox_path=str(tmp_path / "outbox.db"),
        watchdog_dead_link_s=1.0,
        watchdog_cooldown_s=0.5,
        watchdog_breaker_after=2,
    )
    agent = Agent(settings, radio, SystemClock())
    agent.outbox.set_counter(SELF_CHECK_RUNS, 1)  # booted before: no first-boot setup reports
    running = asyncio.create_task(agent.run())
    try:
        await wait_until(lambda: radio.resets == 2, 10)
        await asyncio.sleep(2.0)
        assert radio.resets == 2, "the breaker stops a fix that does not help"
        broker.start()
        async with running_cloud(cloud_settings(broker, database_url, tmp_path)) as cloud:
            engine = cloud.service.repos.engine

            def kinds() -> list[str]:
                with engine.connect() as conn:
                    return sorted(conn.scalars(select(events.c.kind)))

            await wait_until(lambda: "self_heal.recovered" in kinds(), 20)
            assert kinds() == [
                "self_heal.breaker_open",
                "self_heal.dead_link",
                "self_heal.dead_link",
                "self_heal.recovered",
            ]
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
