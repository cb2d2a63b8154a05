"""The agent against what the field throws at it: forged and retained acks, bad readings,
a link that drops while a command runs, a clean stop, reports while the cloud is away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import select

from cloud.db.schema import command_results, events
from cloud.heal.signing import CommandSigner
from device_agent import contract
from device_agent.agent import SELF_CHECK_RUNS, Agent
from device_agent.clock import SystemClock
from device_agent.command_hal import CommandHal
from device_agent.contract import Channel, Scalar
from device_agent.hal import ActionOutcome, Hal
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings, parse_mqtt_url
from tests.audit import stored_seqs
from tests.conftest import Broker, MosquittoBroker, RunningCloud, stop_task, wait_until

pytestmark = pytest.mark.e2e

SENSORS = """
import json, os, sys
path = sys.argv[1]
readings = json.load(open(path)) if os.path.exists(path) else {"temp_c": 40.0}
print(json.dumps(readings))
"""
SLOW_ACTION = "import sys, time; sys.stdin.read(); time.sleep(1.5); print('flushed')"


SIGNER_FILE = "cloud-key.pem"


def _signer(tmp_path: Path) -> CommandSigner:
    """The cloud's key (the ``cloud`` fixture signs with its own; these tests publish
    their own commands)."""
    return CommandSigner.load_or_create(tmp_path / SIGNER_FILE)


def _agent(
    broker: Broker, tmp_path: Path, device_id: str = "boiler-1", flush_interval_s: float = 0.1
) -> Agent:
    readings = tmp_path / "readings.json"
    sensors = tmp_path / "sensors.py"
    sensors.write_text(SENSORS)
    action = tmp_path / "action.py"
    action.write_text(SLOW_ACTION)
    settings = AgentSettings(
        device_id=device_id,
        mqtt_url=broker.url,
        telemetry_interval_s=0.1,
        flush_interval_s=flush_interval_s,
        ack_timeout_s=1.0,
        reconnect_max_s=0.5,
        outbox_path=str(tmp_path / "outbox.db"),
        command_key=_signer(tmp_path).public_key_text,
    )
    hal = CommandHal(
        "boiler-b1",
        "1.0",
        [sys.executable, str(sensors), str(readings)],
        [sys.executable, str(action)],
        timeout_s=5,
    )
    agent = Agent(settings, hal, SystemClock())
    agent.outbox.set_counter(SELF_CHECK_RUNS, 1)  # booted before: no first-boot setup reports
    return agent


@contextlib.asynccontextmanager
async def _running(agent: Agent) -> AsyncIterator[Agent]:
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.connected.wait(), 10)
        yield agent
    finally:
        await stop_task(task)


def _results(cloud: RunningCloud) -> list[tuple[str, str]]:
    with cloud.service.repos.engine.connect() as conn:
        rows = conn.execute(select(command_results.c.command_id, command_results.c.state))
        return [(r.command_id, r.state) for r in rows]


async def _publish(broker: Broker, topic: str, payload: bytes, retain: bool = False) -> None:
    host, port = parse_mqtt_url(broker.url)
    async with aiomqtt.Client(host, port, identifier=f"attacker-{time.monotonic_ns()}") as c:
        await c.publish(topic, payload, qos=1, retain=retain)


async def test_forged_retained_and_oversized_acks_erase_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    """No cloud runs, so nothing is really stored: every sample must stay queued."""
    ack_topic = contract.topic("boiler-1", Channel.ACK)
    everything = json.dumps({"v": 1, "device_id": "boiler-1", "ranges": [[0, 2**53]]}).encode()
    await _publish(broker, ack_topic, everything, retain=True)  # waiting for every connect
    agent = _agent(broker, tmp_path)
    async with _running(agent):
        await asyncio.sleep(0.5)
        before_forgery = agent.uplink.highest_sent
        await _publish(broker, ack_topic, everything)  # live, not retained
        huge = b'{"v": 1, "device_id": "boiler-1", "ranges": [[0, 18446744073709551616]]}'
        await _publish(broker, ack_topic, huge)
        await asyncio.sleep(0.5)
        assert agent.stats.refused_messages >= 3  # retained, beyond what was sent, invalid
        assert agent.stats.connects == 1, "a poisoned ack must not tear the session down"
        remaining = [s.seq for s in agent.outbox.pending(limit=10_000)]
        taken = agent.stats.samples_taken
        # only what had been sent when the live forgery came can be lost to it (the agent
        # keeps sending while the forgery travels, so that point is not known exactly)
        assert remaining, "samples sent after the forgery stay queued"
        assert remaining == list(range(remaining[0], taken)), "nothing unsent was erased"
        assert remaining[0] > before_forgery
    agent.outbox.close()


async def test_a_bad_reading_is_counted_and_never_blocks_the_queue(
    broker: Broker, cloud: RunningCloud, tmp_path: Path
) -> None:
    agent = _agent(broker, tmp_path)
    readings = tmp_path / "readings.json"
    async with _running(agent):
        await asyncio.sleep(0.3)
        readings.write_text('{"Temp": 1.0}')  # an upper-case name the contract refuses
        await wait_until(lambda: agent.stats.sample_errors >= 3)
        readings.write_text('{"temp_c": 41.0}')
        good_before = agent.stats.samples_taken
        await wait_until(lambda: agent.stats.samples_taken >= good_before + 5)
        taken = agent.stats.samples_taken
        engine = cloud.service.repos.engine
        await wait_until(lambda: stored_seqs(engine, "boiler-1")[:taken] == list(range(taken)), 10)
        assert "reading refused: metrics.Temp" in agent.stats.last_sample_error
        stored = stored_seqs(engine, "boiler-1")
        assert stored[:taken] == list(range(taken)), "good readings after a bad one reach the cloud"


async def test_a_command_whose_link_drops_while_it_runs_is_still_reported(
    broker: Broker, cloud: RunningCloud, tmp_path: Path
) -> None:
    agent = _agent(broker, tmp_path)
    async with _running(agent):
        command = _signer(tmp_path).issue(
            "boiler-1", "flush_valve", now=time.time(), command_id="cmd-1"
        )
        await _publish(
            broker, contract.topic("boiler-1", Channel.COMMANDS), contract.encode(command)
        )
        await wait_until(lambda: agent.stats.commands_handled == 1, 5)
        agent.link.set(False)  # the radio drops while the valve is being flushed
        await asyncio.sleep(2.0)
        agent.link.set(True)
        await wait_until(lambda: _results(cloud) != [], 15)
        assert _results(cloud) == [("cmd-1", "done")]
        await wait_until(lambda: agent.outbox.pending_reports() == [], 5)
        assert agent.outbox.pending_reports() == [], "the cloud acknowledged the result"


async def test_a_command_result_leaves_at_once_not_at_the_next_flush(
    broker: Broker, cloud: RunningCloud, tmp_path: Path
) -> None:
    """The cloud's fix timeout runs while the result waits: a result is sent when it is
    kept, whatever the telemetry flush interval."""
    agent = _agent(broker, tmp_path, flush_interval_s=60.0)
    async with _running(agent):
        await asyncio.sleep(0.5)  # the first flush is over: the next is a minute away
        command = _signer(tmp_path).issue(
            "boiler-1", "flush_valve", now=time.time(), command_id="cmd-quick"
        )
        await _publish(
            broker, contract.topic("boiler-1", Channel.COMMANDS), contract.encode(command)
        )
        await wait_until(lambda: _results(cloud) != [], 10)  # the action itself takes 1.5 s
        assert _results(cloud) == [("cmd-quick", "done")]


async def test_events_reach_the_database_once_through_a_cloud_outage(
    broker: Broker, tmp_path: Path, database_url: str
) -> None:
    from tests.conftest import cloud_settings, running_cloud

    agent = _agent(broker, tmp_path)
    async with _running(agent):
        first = agent.report_event("self_heal.restart", {"component": "modem"})  # no cloud yet
        await asyncio.sleep(1.5)  # sent, unacknowledged, resent on the ack timeout
        assert [r[1] for r in agent.outbox.pending_reports()] == [first]
        async with running_cloud(cloud_settings(broker, database_url, tmp_path)) as cloud:
            second = agent.report_event("setup.fact", {"wifi": "ok"})
            await wait_until(lambda: agent.outbox.pending_reports() == [], 15)
            with cloud.service.repos.engine.connect() as conn:
                stored = sorted(conn.scalars(select(events.c.event_id)))
    assert stored == sorted([first, second])


async def test_a_clean_stop_shows_the_device_offline_at_once(
    broker: Broker, cloud: RunningCloud, tmp_path: Path
) -> None:
    agent = _agent(broker, tmp_path)
    telemetry = cloud.service.repos.telemetry
    async with _running(agent):
        await wait_until(lambda: (d := telemetry.get_device("boiler-1")) is not None and d.online)
    await wait_until(lambda: not telemetry.get_device("boiler-1").online, 5)  # type: ignore[union-attr]
    device = telemetry.get_device("boiler-1")
    assert device is not None
    assert device.online is False


async def test_an_agent_stops_even_when_the_broker_hangs(broker: Broker, tmp_path: Path) -> None:
    if not isinstance(broker, MosquittoBroker):
        pytest.fail("this test needs Mosquitto (apt-get install mosquitto)")
    agent = _agent(broker, tmp_path)
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.connected.wait(), 10)
    broker.pause()  # goodbye and DISCONNECT both go unanswered
    try:
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=30)
        assert done, "the agent kept reconnecting instead of stopping"
    finally:
        broker.resume()
        agent.outbox.close()


def test_the_outbox_is_a_file_in_the_state_directory_by_default(tmp_path: Path) -> None:
    settings = AgentSettings(device_id="boiler-9", state_dir=tmp_path)
    assert settings.resolved_outbox_path() == tmp_path / "boiler-9" / "outbox.db"
    with Outbox(tmp_path / "o.db") as outbox:
        outbox.append(time.time(), {"temp_c": 1.0})
    with Outbox(tmp_path / "o.db") as reopened:
        assert len(reopened) == 1


async def test_commands_an_attacker_publishes_are_refused_and_reported_never_run(
    broker: Broker, tmp_path: Path
) -> None:
    """Over the real broker, the way an attacker with access to it would try: forged,
    tampered, stolen from another device, replayed, and planted as retained."""
    signer = _signer(tmp_path)
    topic = contract.topic("boiler-1", Channel.COMMANDS)
    marker = tmp_path / "ran"
    genuine = signer.issue("boiler-1", "flush_valve", now=time.time(), command_id="genuine")
    tampered = genuine.model_copy(
        update={"command_id": "tampered", "command": genuine.command.replace("genuine", "tampered")}
    )
    stolen = signer.issue("boiler-2", "flush_valve", now=time.time(), command_id="stolen")
    stolen = stolen.model_copy(update={"device_id": "boiler-1"})
    planted = signer.issue("boiler-1", "flush_valve", now=time.time(), command_id="planted")
    await _publish(broker, topic, contract.encode(planted), retain=True)
    agent = _agent(broker, tmp_path)
    agent.hal = _Recording(agent.hal, marker)  # type: ignore[assignment]
    agent._commands.hal = agent.hal
    async with _running(agent):
        for command in (tampered, stolen, genuine, genuine):  # the last is a replay
            await _publish(broker, topic, contract.encode(command))
        await wait_until(lambda: len(agent.outbox.pending_reports()) >= 5, 10)
    results: dict[str, tuple[str, str]] = {}
    refused: dict[str, list[object]] = {}
    for kind, _, payload in agent.outbox.pending_reports():
        if kind == "result":
            result = contract.CommandResult.model_validate_json(payload)
            results[result.command_id] = (result.state, result.detail)
        else:
            event = contract.Event.model_validate_json(payload)
            assert event.kind == "command.refused"
            refused.setdefault(str(event.detail["command_id"]), []).append(event.detail["reason"])
    assert results == {"genuine": ("done", "flushed")}, "the replay did not take its place"
    assert refused["tampered"] == ["signature does not verify (unsigned or tampered)"]
    assert refused["stolen"] == ["signed for another device (boiler-2)"]
    assert refused["genuine"] == ["replayed nonce"]
    assert refused["planted"] == ["retained: a stored command would replay on every connect"]
    assert agent.stats.refused_commands == 4
    assert marker.read_text().splitlines() == ["flush_valve"], "only the genuine command ran"
    await _publish(broker, topic, b"", retain=True)  # clear the planted message


class _Recording:
    """The product's HAL, noting each action it runs: what an attacker wants to reach."""

    def __init__(self, hal: Hal, marker: Path) -> None:
        self._hal = hal
        self._marker = marker

    def __getattr__(self, name: str) -> object:
        return getattr(self._hal, name)

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        with self._marker.open("a") as out:
            out.write(action + "\n")
        return await self._hal.run_action(action, params)
