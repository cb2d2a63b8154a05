"""Speed of offline run-to-failure histories (:func:`firmware_sim.wearout.run_to_failure`).

Usage: ``python -m benchmarks.wearout_speed [--devices N] [--days D] [--interval-s S]
[--workers W]``. Simulates N devices of each model wearing out over about D days (the
Weibull scale of the time to failure) sampled every S seconds, and prints device-days per
second; the target is 40 devices x 30 days at a 10-minute interval well under a minute.
"""

from __future__ import annotations

import argparse
import time

from firmware_sim.models import MODELS
from firmware_sim.wearout import LifeSpread, run_to_failure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--interval-s", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    spread = LifeSpread(scale_days=args.days, shape=4.0)
    header = ("model", "devices", "days", "samples", "seconds", "dev-days/s")
    print("{:>16s} {:>8s} {:>8s} {:>9s} {:>8s} {:>11s}".format(*header))
    figures = []
    for model in sorted(MODELS):
        started = time.perf_counter()
        runs = run_to_failure(
            model,
            args.devices,
            seed=1,
            interval_s=args.interval_s,
            spread=spread,
            healthy_days=(0.0, 2.0),
            workers=args.workers,
        )
        elapsed = time.perf_counter() - started
        days = sum(float(r.failure_s - r.ts[0]) for r in runs) / 86_400.0
        samples = sum(len(r.ts) for r in runs)
        print(
            f"{model:>16s} {args.devices:8d} {days:8.0f} {samples:9d} {elapsed:8.1f} "
            f"{days / elapsed:11.1f}"
        )
        figures.append(f"{model}={days / elapsed:.1f}")
    print(f"wearout_speed device_days_per_s {' '.join(figures)} workers={args.workers or 'cpus'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
