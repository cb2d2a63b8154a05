"""The export end to end: a cloud with ``AFTERCARE_INFLUX_URL`` pointing at VictoriaMetrics,
a small simulated fleet reporting, and in VictoriaMetrics its telemetry, the incident a
fault opened and the fix outcomes self-healing judged, tagged as the dashboards read them;
and with nothing listening at that URL, a cloud that stays healthy and stores everything
while the export counts what it could not write.

Device time runs 300 times faster than real time (one telemetry interval of 60 s every
0.2 s), shared by the fleet and the cloud through one ScaledClock. The devices pin no
command key, so they refuse the fixes they are sent: each refusal is a judged fix
(``verified`` false, ``ok`` false), which keeps the test short.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cloud.db.incidents import IncidentFilter, IncidentStore
from cloud.db.remediation import RemediationStore
from cloud.db.repositories import open_database
from cloud.db.telemetry import TelemetryStore
from cloud.mqtt.broker import free_port
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.faults import Fault
from firmware_sim.fleet import Fleet, FleetSpec
from tests.cloud.export.conftest import VictoriaMetrics
from tests.conftest import (
    Broker,
    cloud_settings,
    drain,
    running_cloud,
    running_fleet,
    small_fleet,
    wait_until,
)

pytestmark = pytest.mark.e2e

SPEED = 300.0
INTERVAL_S = 60.0
HOT = "overheat/compressor"


def _millis(ts: float) -> int:
    """A time as VictoriaMetrics keeps it: the microseconds written, cut to milliseconds."""
    return round(ts * 1_000_000) // 1000


async def test_a_reporting_fleet_its_incident_and_fixes_are_readable_from_victoria_metrics(
    broker: Broker, database_url: str, tmp_path: Path, victoria_metrics: VictoriaMetrics
) -> None:
    clock = ScaledClock(SystemClock().now(), SPEED)
    settings = cloud_settings(
        broker,
        database_url,
        tmp_path,
        influx_url=victoria_metrics.url,
        influx_token="test-token",
        influx_org="aftercare",
        influx_bucket="aftercare",
    )
    spec = FleetSpec(
        devices=2,
        mqtt_url=broker.url,
        telemetry_interval_s=INTERVAL_S,
        flush_interval_s=0.1,
        ack_timeout_s=2.0,
        reconnect_max_s=1.0,
        seed=3,
    )
    fleet = Fleet(spec, clock)
    faulty = next(u for u in fleet.units if u.device.model == "heatpump-hp200")
    hot_id = faulty.device.device_id
    faulty.device.inject(Fault.from_signature(HOT, start_s=clock.now(), magnitude=4.0))
    async with running_cloud(settings, clock) as cloud, running_fleet(fleet):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not await asyncio.to_thread(
            victoria_metrics.export, f'fix_verified{{device="{hot_id}"}}'
        ):
            await asyncio.sleep(0.5)
        async with cloud.client() as api:
            health = (await api.get("/healthz")).json()
    # The cloud has stopped, and its exporter has written out everything it was given.
    assert health["status"] == "ok"
    assert health["export"]["written"] > 0
    assert health["export"]["dropped"] == 0

    with open_database(settings.database_url) as engine:
        stored = {
            u.device.device_id: TelemetryStore(engine).telemetry(u.device.device_id, limit=100_000)
            for u in fleet.units
        }
        found = IncidentStore(engine).find(IncidentFilter(device_id=hot_id, signature=HOT))
        incidents = sorted(found, key=lambda i: i.id)  # escalated, it may have opened again
        by_incident = RemediationStore(engine).attempts(i.id for i in incidents)

    for unit in fleet.units:
        device_id, model = unit.device.device_id, unit.device.model
        samples = stored[device_id]
        assert samples, f"{device_id} reported nothing"
        metric = sorted(samples[0].metrics)[0]
        (series,) = victoria_metrics.export(f'telemetry_{metric}{{device="{device_id}"}}')
        assert series["metric"] == {
            "__name__": f"telemetry_{metric}",
            "device": device_id,
            "model": model,
        }
        assert series["timestamps"] == [_millis(s.ts) for s in samples]
        # VictoriaMetrics keeps about 14 significant digits of a float
        assert series["values"] == pytest.approx([s.metrics[metric] for s in samples], rel=1e-12)

    selector = f'device="{hot_id}",signature="{HOT}"'
    opened = victoria_metrics.export(f'incident_incident_id{{{selector},status="open"}}')
    assert [o["metric"] for o in opened] == [
        {
            "__name__": "incident_incident_id",
            "device": hot_id,
            "model": "heatpump-hp200",
            "signature": HOT,
            "status": "open",
        }
    ]
    assert opened[0]["values"] == [i.id for i in incidents]
    assert opened[0]["timestamps"] == [_millis(i.opened_at) for i in incidents]

    attempts = [a for i in incidents for a in by_incident[i.id]]
    judged = sorted(a.action for a in attempts if a.verified is False)
    assert judged, "the devices refused the fixes they were sent"
    verified = victoria_metrics.export(f"fix_verified{{{selector}}}")
    ran = victoria_metrics.export(f"fix_ok{{{selector}}}")
    assert sorted(s["metric"]["action"] for s in verified for _ in s["values"]) == judged
    assert {v for s in verified + ran for v in s["values"]} == {0.0}, (
        "refused: neither ran nor worked"
    )


async def test_with_influxdb_unreachable_the_cloud_stays_healthy_and_stores_everything(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = cloud_settings(broker, database_url, tmp_path, influx_url=unreachable)
    fleet = small_fleet(broker, devices=3)
    async with running_cloud(settings) as cloud:
        ingest, export = cloud.service.ingest, cloud.service.export
        assert export is not None
        async with running_fleet(fleet):
            await wait_until(lambda: ingest.stats.stored_samples >= 30)
            await drain(fleet)  # every sample acknowledged: ingest never waited on export
        stored = ingest.stats.stored_samples
        await wait_until(
            lambda: (
                sum(export.counters()[k] for k in ("written", "dropped", "queued", "in_flight"))
                == stored
            )
        )
        async with cloud.client() as api:
            response = await api.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["export"]["written"] == 0
    counts = export.counters()
    assert counts["written"] + counts["dropped"] == stored, "every point is accounted for"
