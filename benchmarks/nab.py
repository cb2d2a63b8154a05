"""NAB benchmark: the streaming scorer of ``aftercare detect`` on NAB files.

Usage: ``python -m benchmarks.nab [DATA_DIR] [--jobs N]`` (default ``../shared/data/nab``).

Each file is scored by :func:`cloud.detect_csv.score_table` (the exact code path of
``aftercare detect``; its ``anomaly_score`` column), then scored with the NAB rules of
:mod:`benchmarks.nab_scoring`: one threshold per profile swept over the whole corpus.
Prints a table per file and, last, the three normalised scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.nab_scoring import (
    PROFILES,
    FileScoring,
    Window,
    best_threshold,
    file_score_at,
    normalised_score,
    prepare_file,
    probation_rows,
)
from cloud.cli.detect import read_table, score_table
from cloud.detect import MonitorConfig

PUBLISHED = {"ARTime": 73.55, "Numenta HTM": 69.52, "CAD OSE": 66.13, "Windowed Gaussian": 37.70}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def label_windows(times_s: list[float], spans: list[list[str]]) -> list[Window]:
    """Map [start, end] timestamps to inclusive row indices (rows inside the span)."""
    arr = np.asarray(times_s)
    out = []
    for start, end in spans:
        a = int(np.searchsorted(arr, _epoch(start), side="left"))
        b = int(np.searchsorted(arr, _epoch(end), side="right")) - 1
        if a <= b:
            out.append(Window(a, b))
    return out


def score_file(path: Path) -> tuple[list[float], np.ndarray]:
    """(epoch seconds, anomaly_score per row) exactly as ``aftercare detect`` computes.

    NAB's protocol lets a detector learn from the probation period: it is the warm-up
    (as SKAB's training part is for ``benchmarks.skab``); nothing else is set per file.
    """
    table = read_table(path)
    config = MonitorConfig(warmup_samples=probation_rows(len(table.times_s)))
    scores = np.array([a.score for a in score_table(table, config)], dtype=np.float64)
    return table.times_s, scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default="../shared/data/nab", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    windows_json = json.loads((args.data_dir / "labels" / "combined_windows.json").read_text())
    names = sorted(windows_json)
    paths = [args.data_dir / "data" / n for n in names]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        scored = list(pool.map(score_file, paths))
    elapsed = time.perf_counter() - t0
    windows = {
        n: label_windows(times, windows_json[n])
        for n, (times, _) in zip(names, scored, strict=True)
    }
    n_windows = sum(len(w) for w in windows.values())
    results: dict[str, tuple[float, float]] = {}
    per_file: dict[str, list[FileScoring]] = {}
    for profile in PROFILES:
        files = [
            prepare_file(s, windows[n], probation_rows(len(s)), profile)
            for n, (_, s) in zip(names, scored, strict=True)
        ]
        theta, raw = best_threshold(files)
        results[profile.name] = (normalised_score(raw, n_windows, profile), theta)
        per_file[profile.name] = files
    _print_table(names, scored, windows, per_file["standard"], results["standard"][1])
    _print_summary(results, n_windows, len(names), sum(len(s) for _, s in scored), elapsed)
    return 0


def _print_table(names, scored, windows, files, theta) -> None:
    print(f"{'file':58s} {'rows':>6s} {'win':>3s} {'hit':>3s} {'det':>4s} {'score':>7s}")
    for name, (_, s), fs in zip(names, scored, files, strict=True):
        p = probation_rows(len(s))
        det = np.flatnonzero(s[p:] >= theta) + p
        hits = sum(any(w.start <= d <= w.end for d in det) for w in windows[name])
        value = float(file_score_at(fs, np.array([theta]))[0])
        print(
            f"{name:58s} {len(s):6d} {len(windows[name]):3d} {hits:3d} {len(det):4d} {value:7.2f}"
        )


def _print_summary(results, n_windows, n_files, n_rows, elapsed) -> None:
    print()
    print(f"{'detector':28s} {'standard':>9s} {'low_FP':>9s} {'low_FN':>9s}")
    ours = [results[p.name][0] for p in PROFILES]
    print(f"{'aftercare StreamMonitor':28s} " + " ".join(f"{v:9.2f}" for v in ours))
    for name, value in PUBLISHED.items():
        print(f"{name:28s} {value:9.2f} {'':>9s} {'':>9s}")
    thetas = " ".join(f"{results[p.name][1]:.4f}" for p in PROFILES)
    print(f"thresholds (score units): {thetas}; {n_files} files, {n_windows} windows")
    print(
        f"NAB standard={ours[0]:.2f} reward_low_FP={ours[1]:.2f} reward_low_FN={ours[2]:.2f} "
        f"rows={n_rows} scoring_s={elapsed:.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
