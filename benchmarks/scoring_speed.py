"""Cost of the cloud's batch scoring path: stored samples -> per-device diagnosis (limits,
shape detectors, streaming baselines, fleet model) -> incident tracking.

Simulated devices produce the telemetry; fleet models are trained on the first part; the
rest goes through :class:`cloud.scoring.ScoringWorker` in ingest-sized batches, on one
thread. It prints samples/s and metric values/s, with and without fleet models (cold
start), and the detection core alone on the same samples for comparison.

The machine may be shared and noisy, so each path runs ``--repeats`` times, interleaved
(cold, warm, core, cold, ...), and the best run of each is reported: noise only ever
slows a run down. Each path is also given as a ratio to the detection core measured in
the same run (``*_vs_core``), which moves far less with the machine's load than the
absolute figures do.

    python benchmarks/scoring_speed.py --devices 50 --samples 600 --batch 10 --repeats 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict

from cloud.db.engine import migrate, open_engine
from cloud.db.incidents import IncidentStore
from cloud.db.records import StoredSample
from cloud.db.telemetry import TelemetryStore
from cloud.detect import MonitorConfig, StreamMonitor
from cloud.ingest.triage import RawMessage, triage
from cloud.learning import FleetModel
from cloud.scoring.worker import ScoringWorker
from device_agent import contract
from device_agent.clock import ManualClock
from device_agent.contract import Channel
from firmware_sim.models import MODELS, build_device

START_S = 1_767_225_600.0


def simulate(devices: int, samples: int) -> list[list[StoredSample]]:
    """Per step, one sample per device."""
    clock = ManualClock(START_S)
    models = sorted(MODELS)
    fleet = [
        build_device(models[i % 2], f"{models[i % 2]}-{i:04d}", clock, 1) for i in range(devices)
    ]
    steps = []
    for seq in range(samples):
        steps.append([StoredSample(d.device_id, seq, clock.now(), d.read_metrics()) for d in fleet])
        clock.advance(60.0)
    return steps


def register(store: TelemetryStore, steps: list[list[StoredSample]]) -> None:
    """Devices must be known (with their model) as ingest would have made them."""
    messages = []
    for sample in steps[0]:
        status = contract.Status(
            device_id=sample.device_id, online=True, ts=START_S, model=sample.device_id[:-5]
        )
        topic = contract.topic(sample.device_id, Channel.STATUS)
        messages.append(RawMessage(topic, contract.encode(status), START_S))
    store.apply(triage(messages, 1e9))


def batches(steps: list[list[StoredSample]], size: int) -> list[list[StoredSample]]:
    """What ingest hands over: each device's next ``size`` samples, all devices."""
    out = []
    for start in range(0, len(steps), size):
        out.append([s for step in steps[start : start + size] for s in step])
    return out


def run(steps: list[list[StoredSample]], batch: int, models: dict[str, FleetModel]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        engine = open_engine(f"sqlite:///{folder}/bench.db")
        migrate(engine)
        store = TelemetryStore(engine)
        register(store, steps)
        worker = ScoringWorker(store, IncidentStore(engine), models.get)
        work = batches(steps, batch)
        started = time.perf_counter()
        for samples in work:
            worker.score(samples)
        elapsed = time.perf_counter() - started
        engine.dispose()
    return sum(len(b) for b in work) / elapsed


def core_only(steps: list[list[StoredSample]], batch: int) -> float:
    """The detection core as the worker would drive it: each device's next ``batch``
    samples in one ``update_many`` call."""
    monitors: dict[str, StreamMonitor] = defaultdict(
        lambda: StreamMonitor(config=MonitorConfig(multivariate=False))
    )
    work = []
    for chunk in batches(steps, batch):
        per_device: dict[str, list[tuple[float, dict[str, float]]]] = defaultdict(list)
        for s in chunk:
            per_device[s.device_id].append((s.ts, s.metrics))
        work.append(per_device)
    started = time.perf_counter()
    for per_device in work:
        for device_id, samples in per_device.items():
            monitors[device_id].update_many(samples)
    return sum(len(step) for step in steps) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--samples", type=int, default=600, help="per device")
    parser.add_argument("--batch", type=int, default=10, help="samples per device per batch")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each path, interleaved; best reported"
    )
    args = parser.parse_args()

    steps = simulate(args.devices, args.samples + 300)
    history, scored = steps[:300], steps[300:]
    by_model: dict[str, list[dict[str, float]]] = defaultdict(list)
    for step in history:
        for s in step:
            by_model[s.device_id[:-5]].append(s.metrics)
    models = {m: FleetModel.fit(m, rows) for m, rows in by_model.items()}
    metrics_per_sample = sum(len(s.metrics) for s in scored[0]) / len(scored[0])

    cold = warm = core = 0.0
    for _ in range(max(1, args.repeats)):
        cold = max(cold, run(scored, args.batch, {}))
        warm = max(warm, run(scored, args.batch, models))
        core = max(core, core_only(scored, args.batch))
    print(f"{'path':<44}{'samples/s':>11}{'values/s':>11}{'vs core':>9}")
    for label, rate in (
        ("scoring worker, cold start (no fleet model)", cold),
        ("scoring worker, with fleet models", warm),
        ("detection core alone (StreamMonitor)", core),
    ):
        print(f"{label:<44}{rate:>11.0f}{rate * metrics_per_sample:>11.0f}{rate / core:>9.2f}")
    print(
        f"metrics_per_sample={metrics_per_sample:.1f} cold_samples_per_s={cold:.0f} "
        f"warm_samples_per_s={warm:.0f} core_samples_per_s={core:.0f} "
        f"cold_vs_core={cold / core:.3f} warm_vs_core={warm / core:.3f} repeats={args.repeats}"
    )


if __name__ == "__main__":
    main()
