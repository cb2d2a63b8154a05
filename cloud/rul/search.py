"""Choosing the RUL model's settings by cross-validation grouped by unit.

Every fold holds out whole units, so a unit's rows never sit on both sides (rows of one
unit are nearly copies of each other; a row-wise split would reward memorising units).

The score asks the question a C-MAPSS test engine asks: its history was cut somewhere
between its fault's onset and its failure, how long has it left? Each held-out unit is
cut uniformly at random over that span (:mod:`cloud.rul.truncation`, every cut scored
with its probability, every unit weighing the same), and the score is the RMSE of the
prediction at the cut against the *true, uncapped* remaining life. A target cap is
therefore judged by what it costs against the truth, not against itself, and at the
ages the question is asked at.

Candidates are relative to the data, never constants fitted to one data set: windows
are fractions of the median run length, caps fractions of the **horizon** (the number of
final rows that nine units in ten have). The search is coordinate-wise (regimes, health
index, unit weighting, window, cap, model size, each stage keeping the best so far)
because the full grid costs several times as many fits for the same pick in practice;
it starts from the middle of each range, the last health-index and weighting options and
the smallest trees (cheap fits; the size is chosen last). The grid's edges come from CV
on the C-MAPSS FD001 training file: shorter windows (5 % of the median life) and caps
further from the horizon (0.7, 1.4) lost every time by a wide margin.
The fold models of the winner are kept: averaged, they are the shipped model (a bagged
ensemble whose members are exactly the models that were scored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from cloud.rul.pipeline import Candidate, FittedPipeline, fit_pipeline, remaining_life
from cloud.rul.regimes import RegimeScaler
from cloud.rul.truncation import fault_onsets, truncation_weights

__all__ = ["SearchGrid", "SearchResult", "horizon_of", "search"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchGrid:
    """What the search may choose from (relative sizes; see the module doc)."""

    window_fractions: tuple[float, ...] = (0.1, 0.15, 0.2)
    cap_fractions: tuple[float, ...] = (0.85, 1.0, 1.2)
    sizes: tuple[tuple[int, int, float], ...] = ((15, 300, 0.05), (31, 400, 0.03), (63, 400, 0.03))
    """(max leaf nodes, boosting iterations, learning rate); the earlier stages of the
    search fit the first (cheapest), the last stage picks among all."""
    folds: int = 5
    health_index: tuple[bool, ...] = (False, True)
    unit_weighted: tuple[bool, ...] = (False, True)

    @classmethod
    def small(cls) -> SearchGrid:
        """One candidate per setting and three folds: for tests and quick looks."""
        return cls((0.1,), (0.8,), ((15, 100, 0.1),), 3, (True,), (False,))


@dataclass(frozen=True)
class SearchResult:
    """The winner, every candidate's score, and the winner's out-of-fold predictions."""

    best: Candidate
    scores: dict[Candidate, float]
    horizon: float
    held_out_predicted: np.ndarray
    """Out-of-fold predictions for every training row (all rows, not only scored ones)."""
    held_out_truth: np.ndarray
    held_out_weight: np.ndarray
    """Each row's weight in the score (:func:`cloud.rul.truncation.truncation_weights`)."""
    onsets: np.ndarray
    """Each run's estimated fault-onset row."""
    fold_models: tuple[FittedPipeline, ...]
    """The winner fitted once per fold (each without its fold's units)."""

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
        grid: SearchGrid,
        regimes: int,
        seed: int,
        progress: Progress,
    ) -> None:
        """``regimes``: the regime count the onsets' health index standardises with."""
        self.runs = runs
        self.condition_columns = condition_columns
        self.seed = seed
        self.progress = progress
        self.folds = fold_of_units(len(runs), grid.folds, seed)
        lives = [len(r) for r in runs]
        self.truth = np.concatenate([remaining_life(life) for life in lives])
        self.horizon = horizon_of(np.array(lives))
        scaler = RegimeScaler(tuple(condition_columns), regimes, seed).fit(np.vstack(runs))
        self.onsets = fault_onsets([scaler.transform(r) for r in runs])
        self.weight = truncation_weights(lives, self.onsets)
        self.scores: dict[Candidate, float] = {}
        self.predictions: dict[Candidate, np.ndarray] = {}
        self.models: dict[Candidate, tuple[FittedPipeline, ...]] = {}

    def score(self, candidate: Candidate) -> float:
        if candidate not in self.scores:
            predicted, models = self._held_out(candidate)
            squared = (predicted - self.truth) ** 2
            self.scores[candidate] = float(np.sqrt(np.average(squared, weights=self.weight)))
            self.predictions[candidate] = predicted
            self.models[candidate] = models
            self.progress(f"cv {_text(candidate)} rmse={self.scores[candidate]:.2f}")
        return self.scores[candidate]

    def best_of(self, candidates: Sequence[Candidate]) -> Candidate:
        """The lowest-scoring candidate; ties go to the earliest (the simpler one)."""
        return min(candidates, key=self.score)

    def _held_out(self, candidate: Candidate) -> tuple[np.ndarray, tuple[FittedPipeline, ...]]:
        row_fold = np.concatenate(
            [np.full(len(r), f) for r, f in zip(self.runs, self.folds, strict=True)]
        )
        predicted = np.empty(len(row_fold))
        models = []
        for fold in np.unique(self.folds):
            train = [r for r, f in zip(self.runs, self.folds, strict=True) if f != fold]
            test = [r for r, f in zip(self.runs, self.folds, strict=True) if f == fold]
            fitted = fit_pipeline(train, candidate, self.condition_columns, self.seed)
            predicted[row_fold == fold] = np.concatenate(fitted.predict_rows(test))
            models.append(fitted)
        return predicted, tuple(models)


def search(
    runs: Sequence[np.ndarray],
    condition_columns: Sequence[int],
    proposed_regimes: int,
    grid: SearchGrid,
    seed: int,
    progress: Progress,
) -> SearchResult:
    """Coordinate-wise grouped-CV search; returns the winner and its held-out predictions."""
    evaluator = _Evaluator(runs, condition_columns, grid, proposed_regimes, seed, progress)
    spans = [len(r) - o for r, o in zip(runs, evaluator.onsets, strict=True)]
    progress(f"onset to failure: median {np.median(spans):.0f} rows, {min(spans)}..{max(spans)}")
    median_life = float(np.median([len(r) for r in runs]))
    windows = sorted({max(1, round(f * median_life)) for f in grid.window_fractions})
    caps = sorted({max(1.0, round(f * evaluator.horizon)) for f in grid.cap_fractions})
    leaves, iterations, rate = grid.sizes[0]
    best = Candidate(
        1,
        windows[len(windows) // 2],
        caps[len(caps) // 2],
        leaves,
        iterations,
        rate,
        grid.health_index[-1],
        grid.unit_weighted[-1],
    )
    regimes = [1, proposed_regimes] if proposed_regimes > 1 else [1]
    best = evaluator.best_of([replace(best, regimes=k) for k in regimes])
    best = evaluator.best_of([replace(best, health_index=h) for h in grid.health_index])
    best = evaluator.best_of([replace(best, unit_weighted=u) for u in grid.unit_weighted])
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
        held_out_weight=evaluator.weight,
        onsets=evaluator.onsets,
        fold_models=evaluator.models[best],
    )


def _text(candidate: Candidate) -> str:
    return " ".join(f"{k}={v}" for k, v in candidate.describe().items())
