"""Ingest throughput: K simulated devices publish telemetry through one Mosquitto.

In the same run it measures (1) messages/s a bare paho subscriber only counts, the ceiling
the broker and client library set, and (2) messages/s the cloud's ingest worker validates
and stores (and acknowledges). It prints both and their ratio.

    python benchmarks/ingest.py --devices 200 --batches 25 --samples 10
    python benchmarks/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The database must be empty or new; a SQLite file in a temporary folder by default.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.db.engine import migrate, open_engine
from cloud.db.telemetry import TelemetryStore
from cloud.ingest.worker import IngestWorker
from cloud.mqtt.broker import free_port
from cloud.settings import CloudSettings
from device_agent import contract
from device_agent.clock import ManualClock, SystemClock
from device_agent.contract import Channel
from firmware_sim.models import MODELS, build_device


def make_payloads(devices: int, batches: int, samples: int) -> list[tuple[str, bytes]]:
    """Telemetry batches from simulated devices, interleaved across devices as a fleet
    would send them."""
    clock = ManualClock(1_750_000_000.0)
    models = sorted(MODELS)
    fleet = [
        build_device(models[i % len(models)], f"bench-{i:05d}", clock, seed=1)
        for i in range(devices)
    ]
    payloads = []
    for b in range(batches):
        for device in fleet:
            batch = []
            for s in range(samples):
                seq = b * samples + s
                batch.append(
                    contract.Sample(seq=seq, ts=clock.now() + seq, metrics=device.read_metrics())
                )
            message = contract.TelemetryBatch(device_id=device.device_id, samples=batch)
            payloads.append(
                (contract.topic(device.device_id, Channel.TELEMETRY), contract.encode(message))
            )
        clock.advance(samples * 5.0)
    return payloads


def publish_all(port: int, payloads: list[tuple[str, bytes]]) -> None:
    """Runs in a child process so publishing does not share the GIL with the receiver."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-pub")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def run_publisher(port: int, payloads: list[tuple[str, bytes]]) -> None:
    process = multiprocessing.get_context("fork").Process(target=publish_all, args=(port, payloads))
    process.start()
    process.join()


def bare_subscriber_rate(port: int, payloads: list[tuple[str, bytes]]) -> float:
    """Messages/s a paho subscriber that only counts can take."""
    done = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_message(_c: object, _u: object, _m: object) -> None:
        if state["count"] == 0:
            state["first"] = time.perf_counter()
        state["count"] += 1
        if state["count"] == len(payloads):
            state["last"] = time.perf_counter()
            done.set()

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-sub")
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(contract.subscription(Channel.TELEMETRY), qos=1)
    client.loop_start()
    time.sleep(0.5)
    run_publisher(port, payloads)
    if not done.wait(120):
        raise RuntimeError(f"bare subscriber got {state['count']} of {len(payloads)}")
    client.disconnect()
    client.loop_stop()
    return len(payloads) / (state["last"] - state["first"])


def ingest_rate(port: int, database_url: str, payloads: list[tuple[str, bytes]]) -> float:
    """Messages/s the cloud ingest worker validates, stores and acknowledges."""
    engine = open_engine(database_url)
    migrate(engine)
    settings = CloudSettings(
        mqtt_url=f"mqtt://127.0.0.1:{port}", database_url=database_url, ingest_client_id="bench"
    )
    worker = IngestWorker(settings, TelemetryStore(engine), SystemClock())
    total_samples = sum(
        len(contract.TelemetryBatch.model_validate_json(p).samples) for _, p in payloads
    )
    worker.start()
    if not worker.wait_connected(10):
        raise RuntimeError("ingest did not connect")
    time.sleep(0.5)
    start = time.perf_counter()
    run_publisher(port, payloads)
    deadline = time.monotonic() + 300
    while worker.stats.stored_samples < total_samples and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    worker.stop()
    engine.dispose()
    if worker.stats.stored_samples < total_samples:
        raise RuntimeError(f"stored {worker.stats.stored_samples} of {total_samples} samples")
    return len(payloads) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--batches", type=int, default=25, help="batches per device")
    parser.add_argument("--samples", type=int, default=10, help="samples per batch")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    args = parser.parse_args()

    print(
        f"generating {args.devices} devices x {args.batches} batches x {args.samples} samples",
        flush=True,
    )
    payloads = make_payloads(args.devices, args.batches, args.samples)
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = Path(folder) / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 0\nmax_inflight_messages 1000\n"
        )
        broker = subprocess.Popen([args.mosquitto, "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            bare = bare_subscriber_rate(port, payloads)
            database_url = args.database_url or f"sqlite:///{folder}/bench.db"
            stored = ingest_rate(port, database_url, payloads)
        finally:
            broker.terminate()
            broker.wait()
    samples = args.samples
    print(f"{'path':<34}{'msg/s':>10}{'samples/s':>12}")
    print(f"{'bare paho subscriber (count only)':<34}{bare:>10.0f}{bare * samples:>12.0f}")
    print(f"{'cloud ingest (validate+store+ack)':<34}{stored:>10.0f}{stored * samples:>12.0f}")
    print(
        f"messages={len(payloads)} bare_msg_per_s={bare:.0f} ingest_msg_per_s={stored:.0f} "
        f"ratio={stored / bare:.2f} db={(args.database_url or 'sqlite').split(':')[0]}"
    )


if __name__ == "__main__":
    sys.exit(main())
