"""NASA C-MAPSS turbofan benchmark for the remaining-useful-life model.

Usage: ``python -m benchmarks.cmapss [--data-dir DIR] [--subset FD001]
[--predictions-out FILE]`` (default ``../shared/data/cmapss``).

Trains ``RulModel`` on ``train_FDxxx.txt`` (every engine run to failure; the three
operational settings are the condition columns, the 21 sensors the health signals),
predicts the remaining life after the last cycle of each engine in ``test_FDxxx.txt``, and
compares with ``RUL_FDxxx.txt``. Figures: RMSE, the PHM08 (NASA) score
``s = Σ exp(-d/13) - 1 for d < 0, exp(d/10) - 1 for d ≥ 0`` with ``d = predicted - true``
(late predictions cost more than early ones), and the share of true lives inside the
predicted intervals.

The headline RMSE compares with the truth as given in ``RUL_FDxxx.txt``. Many papers
cap the truth at their training cap (125 or 130) before scoring, which flatters healthy
engines; that figure is printed too (``rmse_capped_truth``, capped at the cap CV chose).

Held-out protocol: every setting (regime count, window, cap, health index, unit
weighting, model size) is chosen by cross-validation grouped by engine on the training
file alone, each held-out engine asked the test's question (cut uniformly between its
estimated fault onset and its failure; :mod:`cloud.rul.truncation`); the test files are
read only to score. Nothing is tuned to a subset, so FD002-FD004 run the same code.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cloud.rul.model import RulModel, RulPrediction, SearchGrid

CONDITION_COLUMNS = (0, 1, 2)
"""The three operational settings, once unit and cycle are split off."""
SEARCH_GRID = SearchGrid()
"""The full cross-validated search (tests swap in ``SearchGrid.small()``)."""
PUBLISHED_FD001_RMSE = {"deep LSTM": 16.1, "AGCNN": 12.4, "MS-DCNN": 11.4}


def read_units(path: Path) -> dict[int, np.ndarray]:
    """Each unit's rows (settings and sensors) in cycle order, by unit number."""
    table = np.loadtxt(path, ndmin=2)
    if table.shape[1] < 3:
        raise ValueError(f"{path}: expected unit, cycle and measurement columns")
    units: dict[int, np.ndarray] = {}
    for unit in np.unique(table[:, 0]).astype(int):
        rows = table[table[:, 0] == unit]
        units[int(unit)] = rows[np.argsort(rows[:, 1], kind="stable"), 2:]
    return units


def nasa_score(errors: np.ndarray) -> float:
    """PHM08 score: exponential in the error, late (d ≥ 0) penalised harder than early."""
    d = np.asarray(errors, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(errors))))


@dataclass(frozen=True)
class UnitResult:
    unit: int
    cycles: int
    true_rul: float
    prediction: RulPrediction

    @property
    def error(self) -> float:
        return self.prediction.median - self.true_rul

    @property
    def covered(self) -> bool:
        return self.prediction.low <= self.true_rul <= self.prediction.high


def evaluate(model: RulModel, test: dict[int, np.ndarray], truth: np.ndarray) -> list[UnitResult]:
    """Predictions at the last cycle of each test unit, paired with the true RUL."""
    if len(truth) != len(test):
        raise ValueError(f"{len(test)} test units but {len(truth)} true RUL values")
    units = sorted(test)
    predictions = model.predict_many([test[u] for u in units])
    return [
        UnitResult(u, len(test[u]), float(t), p)
        for u, t, p in zip(units, truth, predictions, strict=True)
    ]


def write_predictions(path: Path, results: Sequence[UnitResult]) -> None:
    lines = ["unit,predicted_rul"] + [f"{r.unit},{r.prediction.median:.2f}" for r in results]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/cmapss"))
    parser.add_argument("--subset", default="FD001")
    parser.add_argument("--predictions-out", type=Path, default=None)
    parser.add_argument("--coverage", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads (1 is fastest on a busy box)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    train = read_units(args.data_dir / f"train_{args.subset}.txt")
    test = read_units(args.data_dir / f"test_{args.subset}.txt")
    truth = np.loadtxt(args.data_dir / f"RUL_{args.subset}.txt", ndmin=1)

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    with threadpool_limits(args.threads):
        model = RulModel.fit(
            [train[u] for u in sorted(train)],
            condition_columns=CONDITION_COLUMNS,
            coverage=args.coverage,
            seed=args.seed,
            progress=progress,
            grid=SEARCH_GRID,
        )
        results = evaluate(model, test, truth)
    seconds = time.monotonic() - started
    if args.predictions_out is not None:
        write_predictions(args.predictions_out, results)
    _report(args.subset, model, results, seconds)
    return 0


def _report(subset: str, model: RulModel, results: Sequence[UnitResult], seconds: float) -> None:
    header = ("unit", "cycles", "true", "pred", "low", "high", "err")
    print(" ".join(f"{h:>{w}s}" for h, w in zip(header, (4, 6, 5, 6, 6, 6, 6), strict=True)))
    for r in results:
        p = r.prediction
        mark = "" if r.covered else " *"
        print(
            f"{r.unit:4d} {r.cycles:6d} {r.true_rul:5.0f} {p.median:6.1f} {p.low:6.1f} "
            f"{p.high:6.1f} {r.error:+6.1f}{mark}"
        )
    errors = np.array([r.error for r in results])
    cap = float(str(model.choices["rul_cap"]))
    truth = np.array([r.true_rul for r in results])
    capped = np.array([r.prediction.median for r in results]) - np.minimum(truth, cap)
    coverage = float(np.mean([r.covered for r in results]))
    print()
    print("(* = true RUL outside the interval)")
    print("CV chose: " + " ".join(f"{k}={v}" for k, v in model.choices.items()))
    if subset == "FD001":
        for name, value in PUBLISHED_FD001_RMSE.items():
            print(f"{name:12s} RMSE {value:.1f}")
    print(
        f"RMSE vs truth as given {rmse(errors):.2f}; vs truth capped at {cap:g}: {rmse(capped):.2f}"
    )
    print(
        f"subset={subset} units={len(results)} rmse={rmse(errors):.2f} "
        f"nasa_score={nasa_score(errors):.1f} coverage={coverage:.2f} "
        f"nominal_coverage={results[0].prediction.coverage if results else math.nan:.2f} "
        f"rmse_capped_truth={rmse(capped):.2f} cv_rmse={model.choices['cv_rmse']} "
        f"window={model.choices['window']} rul_cap={cap:g} "
        f"regimes={model.choices['regimes']} seconds={seconds:.0f} "
        f"health_index={model.choices['health_index']} "
        f"unit_weighted={model.choices['unit_weighted']} ensemble={model.choices['ensemble']}"
    )


if __name__ == "__main__":
    sys.exit(main())
