"""What the InfluxDB export costs ingest: the same telemetry batches triaged and stored,
once with no export and once with every stored sample handed to the exporter, in the
same run. The export target is unreachable by default (the worst case: every point is
retried and then dropped), or ``--influx-url`` (VictoriaMetrics or InfluxDB 2).

    python -m benchmarks.export_overhead --devices 100 --batches 20 --samples 10
    python -m benchmarks.export_overhead --influx-url http://127.0.0.1:8428

The last line: ``ingest_samples_per_s=… with_export_samples_per_s=… export_slowdown=…
exported=… dropped=…`` (``export_slowdown`` is the ratio of the two rates, 1.0 = free).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.ingest import make_payloads
from cloud.db.engine import migrate, open_engine
from cloud.db.records import StoredBatch
from cloud.db.telemetry import TelemetryStore
from cloud.export.exporter import InfluxExporter, InfluxTarget
from cloud.ingest.triage import RawMessage, triage

UNREACHABLE = "http://127.0.0.1:9"
"""The discard port: nothing listens, every write fails at once."""


def _store_all(
    payloads: list[tuple[str, bytes]], folder: Path, listener: Callable[[StoredBatch], None]
) -> tuple[float, int]:
    """Seconds to triage and store every payload, 50 messages a batch as ingest does, and
    the samples stored."""
    engine = open_engine(f"sqlite:///{folder / 'bench.db'}")
    migrate(engine)
    store = TelemetryStore(engine)
    stored = 0
    started = time.perf_counter()
    for first in range(0, len(payloads), 50):
        messages = [RawMessage(t, p, 1_750_000_000.0) for t, p in payloads[first : first + 50]]
        new = store.apply(triage(messages, 1e9))
        listener(StoredBatch(new, [], [], []))
        stored += len(new)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--batches", type=int, default=20, help="batches per device")
    parser.add_argument("--samples", type=int, default=10, help="samples per batch")
    parser.add_argument("--influx-url", default=UNREACHABLE, help="default: unreachable")
    args = parser.parse_args()
    payloads = make_payloads(args.devices, args.batches, args.samples)
    print(f"{len(payloads)} batches of {args.samples} samples, export to {args.influx_url}")
    target = InfluxTarget(args.influx_url, "bench", "bench", "bench")
    exporter = InfluxExporter(target, lambda _device: "bench-model")
    with tempfile.TemporaryDirectory() as plain_dir, tempfile.TemporaryDirectory() as export_dir:
        plain_s, samples = _store_all(payloads, Path(plain_dir), lambda _: None)
        exporter.start()
        try:
            export_s, _ = _store_all(payloads, Path(export_dir), exporter.on_stored)
        finally:
            exporter.stop()
    plain_rate = samples / plain_s
    export_rate = samples / export_s
    counters = exporter.counters()
    print(f"{'path':<30}{'seconds':>10}{'samples/s':>12}")
    print(f"{'store only':<30}{plain_s:>10.2f}{plain_rate:>12.0f}")
    print(f"{'store + export':<30}{export_s:>10.2f}{export_rate:>12.0f}")
    print(f"export counters: {dict(counters)}")
    print(
        f"ingest_samples_per_s={plain_rate:.0f} with_export_samples_per_s={export_rate:.0f} "
        f"export_slowdown={plain_rate / export_rate:.3f} exported={counters.get('written', 0)} "
        f"dropped={counters.get('dropped', 0)}"
    )


if __name__ == "__main__":
    main()
