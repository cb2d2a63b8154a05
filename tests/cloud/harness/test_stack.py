"""LocalStack as a manufacturer's test uses it: a broker, the cloud and simulated devices
on one clock, faults injected, incidents awaited through the API, a clean stop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from cloud.app import PortInUse
from cloud.harness import ExpectationNotMet, StackOptionError, StackOptions, ThreadedStack
from cloud.harness.stack import LocalStack, StackNotRunning

HEAT_PUMP = "heatpump-hp200"
CHARGER = "evcharger-ec11"
OVERHEAT = "overheat/compressor"


async def _points(stack: LocalStack, device_id: str) -> list[object]:
    return list((await stack.get(f"/devices/{device_id}/telemetry"))["points"])


async def _wait_for_telemetry(stack: LocalStack, timeout_s: float = 15.0) -> dict[str, int]:
    """Stored samples per device, once every device has some (or the timeout passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        stored = {d: len(await _points(stack, d)) for d in stack.device_ids}
        if all(stored.values()) or loop.time() > deadline:
            return stored
        await asyncio.sleep(0.25)


async def test_an_injected_overheat_opens_its_incident_on_that_device_only() -> None:
    options = StackOptions(devices=3, models=[HEAT_PUMP, CHARGER], speed=60, seed=2)
    async with LocalStack(options) as stack:
        pump_a, charger, pump_b = stack.device_ids
        assert [pump_a, charger, pump_b] == [
            f"{HEAT_PUMP}-00000",
            f"{CHARGER}-00001",
            f"{HEAT_PUMP}-00002",
        ]
        stored = await _wait_for_telemetry(stack)
        assert all(stored.values()), f"a device's telemetry was never stored: {stored}"
        listed = {d["id"]: d for d in await stack.get("/devices")}
        assert sorted(listed) == sorted(stack.device_ids)
        assert all(d["online"] for d in listed.values())

        started_s = stack.device_time()
        fault = stack.inject(pump_b, OVERHEAT, magnitude=6.0)
        assert fault.start_s == pytest.approx(started_s, abs=5.0)  # from now, in device time
        incident = await stack.wait_for_incident(OVERHEAT, device_id=pump_b, timeout_s=45)
        assert (incident["device_id"], incident["model"]) == (pump_b, HEAT_PUMP)
        assert stack.device_time() - started_s > 5 * 60, "device time ran ahead of real time"
        assert await stack.incidents(device_id=pump_a) == []
        assert await stack.incidents(device_id=charger) == []

        with pytest.raises(ExpectationNotMet) as missed:
            await stack.wait_for_incident(OVERHEAT, device_id=charger, timeout_s=0.5)
        message = str(missed.value)
        assert message.startswith(f"no incident {OVERHEAT} on {charger} within 0.5 s")
        assert f"{OVERHEAT} on {pump_b}" in message, "it lists the incidents there were"
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == [], f"tasks left running after the stack stopped: {others}"


async def test_a_stack_on_mosquitto_provisions_its_devices_with_their_own_logins() -> None:
    options = StackOptions(devices=1, models=[CHARGER], broker="mosquitto")
    async with LocalStack(options) as stack:
        (charger,) = stack.device_ids
        stored = await _wait_for_telemetry(stack)
        assert stored[charger] > 0
        assert stack.cloud.broker_admin is not None, "the cloud manages the broker's logins"


def test_a_stack_that_cannot_start_says_why_in_the_callers_thread() -> None:
    before = set(threading.enumerate())
    with (
        pytest.raises(ValueError, match="unknown device model 'washing-machine-wm1'"),
        ThreadedStack(StackOptions(devices=1, models=["washing-machine-wm1"])),
    ):
        pass
    assert set(threading.enumerate()) <= before, "the stack's thread was left behind"


def test_an_unknown_option_is_refused_with_the_known_ones() -> None:
    with pytest.raises(StackOptionError, match="unknown aftercare options \\['device'\\]"):
        StackOptions().updated({"device": 2})
    with pytest.raises(StackOptionError, match="speed must be a positive number"):
        StackOptions(speed=0)


async def test_a_cloud_without_devices_runs_on_the_database_it_is_given(database_url: str) -> None:
    async with LocalStack(StackOptions(devices=0, database_url=database_url)) as stack:
        assert stack.cloud.settings.database_url == database_url
        assert await stack.get("/devices") == []
        assert stack.device_ids == []
        with pytest.raises(StackNotRunning, match="this stack has no fleet: give it devices=1"):
            stack.inject("heatpump-hp200-00000", OVERHEAT)
    with pytest.raises(StackNotRunning, match="the stack is not running"):
        _ = stack.api


async def test_a_port_in_use_stops_the_start_at_once_with_the_reason() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PortInUse, match=f"cannot listen on 127.0.0.1:{port}"):
            async with LocalStack(StackOptions(devices=0, http_port=port)):
                pass
    assert time.monotonic() - started < 15, "it waited for a server that could never start"
