"""The exporter against a real InfluxDB v2 write API (VictoriaMetrics): what it writes
comes back with its tags, values and times; while the database is down, ``put`` still
returns at once, points are dropped and counted, and once it is back new points arrive.
"""

from __future__ import annotations

import time

from cloud.db.records import IncidentChange, StoredBatch, StoredSample
from cloud.export.exporter import ExportTuning, InfluxExporter, InfluxTarget
from cloud.heal.outcome import FixOutcome
from cloud.mqtt.broker import free_port
from tests.cloud.export.conftest import VictoriaMetrics

MODELS = {"hp-1": "heatpump-hp200"}
QUICK = ExportTuning(
    queue_max=1_000,
    max_in_flight=500,
    batch_size=100,
    flush_interval_ms=50,
    retry_interval_ms=50,
    max_retries=1,
    max_retry_delay_ms=100,
    max_retry_time_ms=1_000,
    timeout_ms=2_000,
    close_wait_ms=2_000,
)
"""Small bounds and short retries, so an outage shows within a second."""


def _exporter(url: str) -> InfluxExporter:
    exporter = InfluxExporter(
        InfluxTarget(url, "token", "aftercare", "aftercare"), MODELS.get, QUICK
    )
    exporter.start()
    return exporter


def _samples(device_id: str, count: int, since: float) -> StoredBatch:
    """``count`` samples one second apart, on whole milliseconds (what the database keeps)."""
    return StoredBatch(
        [
            StoredSample(device_id, seq, round(since + seq, 3), {"temp_c": 20.0 + seq % 5})
            for seq in range(count)
        ],
        [],
    )


def _settle(exporter: InfluxExporter, points: int, timeout_s: float = 15.0) -> None:
    """Wait until ``points`` points are written or given up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = exporter.counters()
        if counts["written"] + counts["dropped"] >= points:
            return
        time.sleep(0.02)


def test_points_come_back_with_their_tags_values_and_times(
    victoria_metrics: VictoriaMetrics,
) -> None:
    exporter = _exporter(victoria_metrics.url)
    now = round(time.time() - 60, 3)
    exporter.on_stored(_samples("hp-1", 10, now))
    exporter.on_stored(_samples("ev-1", 3, now))  # its model is not known yet
    exporter.on_incident(
        IncidentChange(7, "hp-1", "heatpump-hp200", "overheat/compressor", "open", now + 5, 0.9)
    )
    exporter.on_fix(
        FixOutcome(
            7,
            "hp-1",
            "heatpump-hp200",
            "overheat/compressor",
            "reduce_load",
            1,
            "done",
            True,
            now + 9,
        )
    )
    _settle(exporter, 15)
    exporter.stop()
    assert exporter.counters()["written"] == 15
    assert exporter.counters()["dropped"] == 0

    (hp,) = victoria_metrics.wait_for('telemetry_temp_c{device="hp-1"}', 10)
    assert hp["metric"] == {
        "__name__": "telemetry_temp_c",
        "device": "hp-1",
        "model": "heatpump-hp200",
    }
    assert hp["values"] == [20.0 + seq % 5 for seq in range(10)]
    assert hp["timestamps"] == [round((now + seq) * 1000) for seq in range(10)]
    (ev,) = victoria_metrics.wait_for('telemetry_temp_c{device="ev-1"}', 3)
    assert ev["metric"] == {"__name__": "telemetry_temp_c", "device": "ev-1"}

    (incident,) = victoria_metrics.wait_for("incident_peak_score", 1)
    assert incident["metric"] == {
        "__name__": "incident_peak_score",
        "device": "hp-1",
        "model": "heatpump-hp200",
        "signature": "overheat/compressor",
        "status": "open",
    }
    assert (incident["values"], incident["timestamps"]) == ([0.9], [round((now + 5) * 1000)])
    (verified,) = victoria_metrics.wait_for('fix_verified{action="reduce_load"}', 1)
    assert verified["metric"]["signature"] == "overheat/compressor"
    assert (verified["values"], verified["timestamps"]) == ([1.0], [round((now + 9) * 1000)])
    (ran,) = victoria_metrics.wait_for("fix_ok", 1)
    assert ran["values"] == [1.0]


def test_with_influxdb_unreachable_puts_return_at_once_and_points_are_dropped_and_counted() -> None:
    exporter = _exporter(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    now = time.time()
    sample = StoredSample("hp-1", 0, now, {"temp_c": 21.0})
    started = time.perf_counter()
    accepted = sum(exporter.put(sample) for _ in range(100_000))
    took_s = time.perf_counter() - started
    assert took_s < 5.0, f"100k puts took {took_s:.1f} s: put must never wait for InfluxDB"
    given_up = exporter.counters()["failed"]  # batches that failed meanwhile made room
    assert accepted - given_up <= QUICK.queue_max + QUICK.max_in_flight + 2 * QUICK.batch_size
    assert exporter.counters()["dropped"] >= 100_000 - accepted

    deadline = time.monotonic() + 15
    while exporter.counters()["failed"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    counts = exporter.counters()
    assert counts["failed"] > 0, "a batch that kept failing is given up after its retries"
    assert counts["retries"] > 0, "a failed batch is retried before it is given up"
    assert counts["written"] == 0

    started = time.perf_counter()
    exporter.stop()
    assert time.perf_counter() - started < 10.0, "stopping waits a bounded time"
    counts = exporter.counters()
    assert counts["written"] + counts["dropped"] == 100_000, "every point is accounted for"
    assert (counts["queued"], counts["in_flight"]) == (0, 0)


def test_points_sent_while_victoria_metrics_is_stopped_are_dropped_and_new_ones_arrive_after(
    victoria_metrics: VictoriaMetrics,
) -> None:
    exporter = _exporter(victoria_metrics.url)
    start = round(time.time() - 300, 3)
    exporter.on_stored(_samples("hp-1", 50, start))
    _settle(exporter, 50)
    assert exporter.counters()["written"] == 50

    victoria_metrics.stop()
    during = _samples("hp-1", 50, start + 100)
    began = time.perf_counter()
    for _ in range(20):  # ingest at full pace: 1000 samples, far beyond the bounds
        exporter.on_stored(during)
    assert time.perf_counter() - began < 2.0, "the exporter never slows ingest down"
    deadline = time.monotonic() + 15
    while exporter.counters()["failed"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    _settle(exporter, 50 + 1000)
    outage = exporter.counters()
    assert outage["written"] == 50
    assert outage["failed"] > 0
    assert outage["dropped"] == 1000, "every point sent during the outage is counted lost"

    victoria_metrics.start()
    exporter.on_stored(_samples("hp-1", 50, start + 200))
    _settle(exporter, 50 + 1000 + 50)
    exporter.stop()
    assert exporter.counters()["written"] == 100
    (series,) = victoria_metrics.wait_for('telemetry_temp_c{device="hp-1"}', 100)
    expected = [round((start + offset + seq) * 1000) for offset in (0, 200) for seq in range(50)]
    assert series["timestamps"] == expected
