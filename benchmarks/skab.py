"""SKAB benchmark (outlier detection leaderboard protocol) for the StreamMonitor.

Usage: ``python -m benchmarks.skab [DATA_DIR]`` (default ``../shared/data/skab``).

For every experiment file under ``DATA_DIR/data`` except ``anomaly-free``: drop the label
columns (``anomaly``, ``changepoint``), score the rest with the same code path as
``aftercare detect`` with a warm-up of 400 rows (the protocol's training part), and
compare the monitor's own ``is_anomaly`` with the ``anomaly`` labels on the test rows
(row 400 on). F1 = TP / (TP + (FN + FP) / 2) summed over all files, FAR = FP / (FP + TN),
MAR = FN / (FN + TP).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from cloud.cli.detect import Table, read_table, score_table
from cloud.detect import MonitorConfig

TRAIN_ROWS = 400
LABELS = ("anomaly", "changepoint")
PUBLISHED = {"Conv-AE": 0.78, "MSET": 0.78, "T²+Q (PCA)": 0.76, "LSTM-AE": 0.74, "T²": 0.66}


def strip_labels(table: Table) -> tuple[Table, np.ndarray]:
    """The table without label columns, and the ``anomaly`` labels."""
    labels = np.asarray(table.metrics["anomaly"], dtype=np.float64) > 0.5
    metrics = {k: v for k, v in table.metrics.items() if k not in LABELS}
    return replace(table, metrics=metrics), labels


def confusion(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) over boolean arrays."""
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    tn = int(np.sum(~pred & ~truth))
    return tp, fp, fn, tn


def metrics_of(tp: int, fp: int, fn: int, tn: int) -> tuple[float, float, float]:
    """(F1, FAR, MAR) with SKAB's definitions."""
    f1 = tp / (tp + 0.5 * (fn + fp)) if tp + fn + fp else 1.0
    far = fp / (fp + tn) if fp + tn else 0.0
    mar = fn / (fn + tp) if fn + tp else 0.0
    return f1, far, mar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default="../shared/data/skab", type=Path)
    args = parser.parse_args(argv)
    files = sorted(
        p for p in (args.data_dir / "data").rglob("*.csv") if "anomaly-free" not in p.parts
    )
    config = MonitorConfig(warmup_samples=TRAIN_ROWS)
    total = np.zeros(4, dtype=np.int64)
    print(f"{'file':28s} {'rows':>5s} {'F1':>6s} {'FAR':>6s} {'MAR':>6s}")
    for path in files:
        table, truth = strip_labels(read_table(path))
        pred = np.array([a.is_anomaly for a in score_table(table, config)], dtype=bool)
        counts = confusion(pred[TRAIN_ROWS:], truth[TRAIN_ROWS:])
        total += counts
        f1, far, mar = metrics_of(*counts)
        name = str(path.relative_to(args.data_dir / "data"))
        print(f"{name:28s} {len(pred):5d} {f1:6.3f} {far:6.3f} {mar:6.3f}")
    f1, far, mar = metrics_of(*(int(v) for v in total))
    print()
    for name, value in PUBLISHED.items():
        print(f"{name:28s} F1 {value:.2f}")
    print(f"SKAB files={len(files)} F1={f1:.3f} FAR={far:.3f} MAR={mar:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
