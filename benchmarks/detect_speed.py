"""Throughput of the cloud's batch scoring path (StreamMonitor.update_many).

Usage: ``python -m benchmarks.detect_speed [--devices N] [--samples S] [--metrics M]``.
Scores S samples for each of N devices (one monitor each, M metrics per sample) on one
core and prints samples/s; the target is ≥ 20,000 samples/s for a few metrics.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from cloud.detect import StreamMonitor


def make_batches(devices: int, samples: int, metrics: int, seed: int = 0):
    """Per device: a list of (ts, {metric: value}) with a daily cycle, noise and spikes."""
    rng = np.random.default_rng(seed)
    names = [f"m{j}" for j in range(metrics)]
    t = np.arange(samples) * 60.0
    out = []
    for _ in range(devices):
        base = np.sin(2 * np.pi * t / 86_400.0)[:, None] + rng.normal(0, 0.2, (samples, metrics))
        base[rng.random(samples) < 0.002] += 5.0
        out.append(
            [
                (float(ts), dict(zip(names, map(float, row), strict=True)))
                for ts, row in zip(t, base, strict=True)
            ]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--metrics", type=int, default=3)
    args = parser.parse_args(argv)
    batches = make_batches(args.devices, args.samples, args.metrics)
    monitors = [StreamMonitor() for _ in batches]
    anomalies = 0
    t0 = time.perf_counter()
    for monitor, batch in zip(monitors, batches, strict=True):
        anomalies += sum(a.is_anomaly for a in monitor.update_many(batch))
    elapsed = time.perf_counter() - t0
    total = args.devices * args.samples
    print(f"{'devices':>8s} {'samples':>9s} {'metrics':>8s} {'seconds':>8s} {'samples/s':>10s}")
    print(f"{args.devices:8d} {total:9d} {args.metrics:8d} {elapsed:8.2f} {total / elapsed:10.0f}")
    print(
        f"detect_speed samples_per_s={total / elapsed:.0f} metrics={args.metrics} "
        f"anomalous_samples={anomalies}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
