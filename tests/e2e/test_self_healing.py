"""Self-healing end to end, with a real broker, database, agents and cloud: a fault
becomes an incident, the playbook's fix is signed and sent, the device runs it, and the
incident is resolved only once the telemetry shows the recovery.

Device time runs 300 times faster than real time, shared by the fleet and the cloud
through one ScaledClock (see test_detection.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cloud.heal.signing import CommandSigner
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.faults import Fault
from firmware_sim.fleet import Fleet, FleetSpec
from tests.conftest import Broker, cloud_settings, running_cloud, running_fleet

pytestmark = pytest.mark.e2e

SPEED = 300.0
INTERVAL_S = 60.0
SIGNATURE = "sensor-stuck/supply_temp_c"


async def test_a_stuck_sensor_is_healed_by_a_fix_the_telemetry_verifies(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    clock = ScaledClock(SystemClock().now(), SPEED)
    settings = cloud_settings(broker, database_url, tmp_path)
    key = CommandSigner.load_or_create(Path(settings.command_key_path)).public_key_text
    spec = FleetSpec(
        devices=2,
        mqtt_url=broker.url,
        telemetry_interval_s=INTERVAL_S,
        flush_interval_s=0.1,
        ack_timeout_s=2.0,
        reconnect_max_s=1.0,
        seed=3,
        command_key=key,
    )
    fleet = Fleet(spec, clock)
    faulty = next(u for u in fleet.units if u.device.model == "heatpump-hp200")
    fault_at = clock.now() + 90 * INTERVAL_S
    faulty.device.inject(Fault.from_signature(SIGNATURE, start_s=fault_at))
    async with running_cloud(settings, clock) as cloud, running_fleet(fleet):
        token = cloud.service.repos.tokens.issue("service")
        healed: list[dict[str, Any]] = []
        async with cloud.client(token) as api:
            while clock.now() < fault_at + 200 * INTERVAL_S and not healed:
                await asyncio.sleep(0.5)
                incidents = (await api.get("/api/v1/incidents")).json()
                healed = [i for i in incidents if i["status"] == "resolved"]
            fixes = (await api.get("/api/v1/fixes")).json()
        assert len(healed) == 1, f"no verified fix: {incidents}"
        (incident,) = healed
        assert (incident["device_id"], incident["signature"]) == (
            faulty.device.device_id,
            SIGNATURE,
        )
        *missed, attempt = incident["fix_attempts"]
        assert all(a["verified"] is False for a in missed), "a fix that did not take is no fix"
        assert attempt["action"] == "recalibrate_sensor"
        assert attempt["params"] == {"metric": "supply_temp_c"}
        assert attempt["result_state"] == "done"
        assert attempt["verified"] is True
        assert attempt["evidence_window"] is not None
        windows = faulty.device.fault_log
        assert [w.cleared_by for w in windows] == ["recalibrate_sensor"], "the device really ran it"
        learned = {key: fixes[0][key] for key in ("model", "signature", "action", "successes")}
        assert len(fixes) == 1
        assert learned == {
            "model": "heatpump-hp200",
            "signature": SIGNATURE,
            "action": "recalibrate_sensor",
            "successes": 1,
        }
        assert fixes[0]["failures"] == len(missed)
        assert fixes[0]["success_rate"] == 1 / (1 + len(missed))
        assert fixes[0]["rate_low"] < fixes[0]["rate_mean"] < fixes[0]["rate_high"]
        assert cloud.service.remediation is not None
        assert cloud.service.remediation.stats.healed == 1
