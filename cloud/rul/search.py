"""Choosing the RUL model's settings by cross-validation grouped by unit.

Every fold holds out whole units, so a unit's rows never sit on both sides (rows of one
unit are nearly copies of each other; a row-wise split would reward memorising units).
The score is the RMSE of held-out predictions against the *true, uncapped* remaining
life, over the rows whose remaining life is below the **horizon**: the number of final
rows that nine units in ten have (the 10th percentile of run lengths). Those are the
rows nearly every unit contributes, so every unit weighs about the same, and the
question asked is the one a user asks ("how long has this unit left, now that it may be
wearing?"). A target cap is therefore judged by what it costs against the truth, not
against itself.

Candidates are relative to the data, never constants fitted to one data set: windows
are fractions of the median run length, caps fractions of the horizon. The search is
coordinate-wise (regimes, then window, then cap, then model size, each stage keeping the
best so far) because the full grid costs several times as many fits for the same pick
in practice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from cloud.rul.pipeline import Candidate, fit_pipeline, remaining_life

__all__ = ["SearchGrid", "SearchResult", "horizon_of", "search"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchGrid:
    """What the search may choose from (relative sizes; see the module doc)."""

    window_fractions: tuple[float, ...] = (0.05, 0.1, 0.15)
    cap_fractions: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0)
    sizes: tuple[tuple[int, int, float], ...] = ((7, 300, 0.05), (15, 300, 0.05), (31, 400, 0.03))
    """(max leaf nodes, boosting iterations, learning rate)."""
    folds: int = 5

    @classmethod
    def small(cls) -> SearchGrid:
        """One candidate per setting and three folds: for tests and quick looks."""
        return cls((0.1,), (0.8,), ((15, 100, 0.1),), 3)


@dataclass(frozen=True)
class SearchResult:
    """The winner, every candidate's score, and the winner's out-of-fold predictions."""

    best: Candidate
    scores: dict[Candidate, float]
    horizon: float
    held_out_predicted: np.ndarray
    """Out-of-fold predictions for every training row (all rows, not only scored ones)."""
    held_out_truth: np.ndarray

    @property
    def best_score(self) -> float:
        return self.scores[self.best]


def horizon_of(lives: np.ndarray) -> float:
    """The number of final rows nine units in ten have (at least 1)."""
    return max(1.0, float(np.quantile(lives, 0.1)))


def fold_of_units(units: int, folds: int, seed: int) -> np.ndarray:
    """A fold number per unit, shuffled with the seed, sizes differing by at most one."""
    order = np.random.default_rng(seed).permutation(units)
    assignment = np.empty(units, dtype=np.intp)
    assignment[order] = np.arange(units) % folds
    return assignment


class _Evaluator:
    """Scores candidates on fixed folds, remembering each score and prediction."""

    def __init__(
        self,
        runs: Sequence[np.ndarray],
        condition_columns: Sequence[int],
        folds: int,
        seed: int,
        progress: Progress,
    ) -> None:
        self.runs = runs
        self.condition_columns = condition_columns
        self.seed = seed
        self.progress = progress
        self.folds = fold_of_units(len(runs), folds, seed)
        self.truth = np.concatenate([remaining_life(len(r)) for r in runs])
        self.horizon = horizon_of(np.array([len(r) for r in runs]))
        self.scored = self.truth < self.horizon
        self.scores: dict[Candidate, float] = {}
        self.predictions: dict[Candidate, np.ndarray] = {}

    def score(self, candidate: Candidate) -> float:
        if candidate not in self.scores:
            predicted = self._held_out(candidate)
            error = predicted[self.scored] - self.truth[self.scored]
            self.scores[candidate] = float(np.sqrt(np.mean(error**2)))
            self.predictions[candidate] = predicted
            self.progress(f"cv {_text(candidate)} rmse={self.scores[candidate]:.2f}")
        return self.scores[candidate]

    def best_of(self, candidates: Sequence[Candidate]) -> Candidate:
        """The lowest-scoring candidate; ties go to the earliest (the simpler one)."""
        return min(candidates, key=self.score)

    def _held_out(self, candidate: Candidate) -> np.ndarray:
        row_fold = np.concatenate(
            [np.full(len(r), f) for r, f in zip(self.runs, self.folds, strict=True)]
        )
        predicted = np.empty(len(row_fold))
        for fold in np.unique(self.folds):
            train = [r for r, f in zip(self.runs, self.folds, strict=True) if f != fold]
            test = [r for r, f in zip(self.runs, self.folds, strict=True) if f == fold]
            fitted = fit_pipeline(train, candidate, self.condition_columns, self.seed)
            predicted[row_fold == fold] = np.concatenate(fitted.predict_rows(test))
        return predicted


def search(
    runs: Sequence[np.ndarray],
    condition_columns: Sequence[int],
    proposed_regimes: int,
    grid: SearchGrid,
    seed: int,
    progress: Progress,
) -> SearchResult:
    """Coordinate-wise grouped-CV search; returns the winner and its held-out predictions."""
    evaluator = _Evaluator(runs, condition_columns, grid.folds, seed, progress)
    median_life = float(np.median([len(r) for r in runs]))
    windows = sorted({max(1, round(f * median_life)) for f in grid.window_fractions})
    caps = sorted({max(1.0, round(f * evaluator.horizon)) for f in grid.cap_fractions})
    leaves, iterations, rate = grid.sizes[len(grid.sizes) // 2]
    best = Candidate(1, windows[len(windows) // 2], caps[len(caps) // 2], leaves, iterations, rate)
    regimes = [1, proposed_regimes] if proposed_regimes > 1 else [1]
    best = evaluator.best_of([replace(best, regimes=k) for k in regimes])
    best = evaluator.best_of([replace(best, window=w) for w in windows])
    best = evaluator.best_of([replace(best, cap=c) for c in caps])
    best = evaluator.best_of(
        [replace(best, leaves=n, iterations=i, learning_rate=r) for n, i, r in grid.sizes]
    )
    return SearchResult(
        best=best,
        scores=dict(evaluator.scores),
        horizon=evaluator.horizon,
        held_out_predicted=evaluator.predictions[best],
        held_out_truth=evaluator.truth,
    )


def _text(candidate: Candidate) -> str:
    return " ".join(f"{k}={v}" for k, v in candidate.describe().items())
