"""Detection end to end: a fault injected in a simulated device opens an incident with
the right signature within a few telemetry intervals; a healthy fleet opens none.

Device time runs 300 times faster than real time (one telemetry interval of 60 s every
0.2 s), shared by the fleet and the cloud through one ScaledClock. Delays are measured in
device time, from the fault's start to the sample that opened the incident, so a busy
machine slows the test down but does not change what it checks.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from cloud.db.incidents import IncidentFilter
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.faults import Fault
from firmware_sim.fleet import Fleet, FleetSpec
from tests.conftest import Broker, cloud_settings, running_cloud, running_fleet

pytestmark = pytest.mark.e2e

SPEED = 300.0
INTERVAL_S = 60.0


def _fleet(broker: Broker, clock: ScaledClock, devices: int) -> Fleet:
    spec = FleetSpec(
        devices=devices,
        mqtt_url=broker.url,
        telemetry_interval_s=INTERVAL_S,
        flush_interval_s=0.1,
        ack_timeout_s=2.0,
        reconnect_max_s=1.0,
        seed=3,
    )
    return Fleet(spec, clock)


async def test_a_stuck_sensor_opens_one_incident_with_its_signature(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    clock = ScaledClock(SystemClock().now(), SPEED)
    fleet = _fleet(broker, clock, devices=2)
    faulty = next(u for u in fleet.units if u.device.model == "heatpump-hp200")
    fault_at = clock.now() + 90 * INTERVAL_S  # after the detectors have learned normal
    faulty.device.inject(Fault.from_signature("sensor-stuck/supply_temp_c", start_s=fault_at))
    # detection alone: no fix may change the incident while it is checked
    settings = cloud_settings(broker, database_url, tmp_path, self_healing=False)
    async with running_cloud(settings, clock) as cloud, running_fleet(fleet):
        token = cloud.service.repos.tokens.issue("service")
        incidents: list[dict[str, object]] = []
        async with cloud.client(token) as api:
            while clock.now() < fault_at + 120 * INTERVAL_S and not incidents:
                await asyncio.sleep(0.5)
                incidents = (await api.get("/api/v1/incidents")).json()
        assert [(i["device_id"], i["signature"], i["status"]) for i in incidents] == [
            (faulty.device.device_id, "sensor-stuck/supply_temp_c", "open")
        ]
        opened_at = datetime.fromisoformat(str(incidents[0]["opened_at"])).timestamp()
        delay_intervals = (opened_at - fault_at) / INTERVAL_S
        assert delay_intervals <= 15, f"detected after {delay_intervals:.0f} intervals"
        async with cloud.client(token) as api:
            detail = (await api.get(f"/api/v1/incidents/{incidents[0]['id']}")).json()
        explanation = detail["explanation"]
        assert explanation["detector"] == "repeat"
        assert explanation["unit"] == "°C"
        assert explanation["normal_low"] < explanation["normal_high"]
        assert str(explanation["summary"]).startswith("Supply temp has read exactly ")
        assert "; normal is " in explanation["summary"]
        assert "recalibrate" in explanation["next_step"]
        assert detail["evidence"], "the incident carries the telemetry it was opened on"


async def test_a_healthy_fleet_opens_no_incident(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    clock = ScaledClock(SystemClock().now(), SPEED)
    fleet = _fleet(broker, clock, devices=4)
    settings = cloud_settings(broker, database_url, tmp_path)
    async with running_cloud(settings, clock) as cloud, running_fleet(fleet):
        await asyncio.sleep(200 * INTERVAL_S / SPEED)
        scored = cloud.service.scoring.stats.scored
        assert scored >= 4 * 150, "the fleet should have been scored past warm-up"
        assert cloud.service.repos.incidents.find(IncidentFilter()) == []
