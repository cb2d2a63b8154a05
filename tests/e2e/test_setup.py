"""Guided setup end to end: simulated devices check themselves on first boot, the
reports travel through the real broker and ingest into the database, and the setup API
shows their device steps ticked, or failed with help until the installation is fixed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import Broker, RunningCloud, running_fleet, small_fleet

pytestmark = pytest.mark.e2e

DEVICE_STEPS = ("network", "firmware_current", "sensor_selftest", "calibration", "placement")


async def test_self_checks_tick_device_steps_and_a_fixed_installation_ticks_on_reset(
    broker: Broker, cloud: RunningCloud
) -> None:
    fleet = small_fleet(broker, devices=2)
    by_model = {u.device.model: u for u in fleet.units}
    heat_pump, charger = by_model["heatpump-hp200"], by_model["evcharger-ec11"]
    charger.device.install_badly("placement")  # an installer forgot the earth
    token = cloud.service.repos.tokens.issue("service")
    states: dict[str, dict[str, dict[str, object]]] = {}

    async def read(api: httpx.AsyncClient) -> None:
        for unit in fleet.units:
            body = (await api.get(f"/api/v1/devices/{unit.agent.device_id}/setup")).json()
            states[unit.agent.device_id] = {s["id"]: s for s in body.get("steps", [])}

    def state(unit: object, step: str) -> object:
        device_id = unit.agent.device_id  # type: ignore[attr-defined]
        return states.get(device_id, {}).get(step, {}).get("state")

    async with running_fleet(fleet), cloud.client(token) as api:
        await fleet.wait_connected(15)
        done = False
        for _ in range(100):
            await read(api)
            done = all(state(heat_pump, s) == "done" for s in DEVICE_STEPS) and (
                state(charger, "placement") == "failed"
            )
            if done:
                break
            await asyncio.sleep(0.1)
        assert done, states
        placement = states[charger.agent.device_id]["placement"]
        assert placement["reason"] == (
            "placement: no protective earth detected: charging is disabled"
        )
        assert "earth" in str(placement["help"])
        assert state(heat_pump, "owner_preferences") == "needs_owner"

        charger.device.fix_installation()
        charger.agent.check_setup()  # the electrician resets the charger
        for _ in range(100):
            await read(api)
            if state(charger, "placement") == "done":
                break
            await asyncio.sleep(0.1)
        assert state(charger, "placement") == "done", states

        funnel = (await api.get("/api/v1/activation/funnel")).json()
        assert funnel["devices"] == 2
        assert {s["id"]: s["done"] for s in funnel["steps"]}["placement"] == 2
        assert funnel["most_common_failing_check"] is None
