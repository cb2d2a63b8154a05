"""The remaining-useful-life model: fitted on run-to-failure histories, asked about units
still in service.

``RulModel.fit`` takes whole histories of units that ran until they failed (one array per
unit, rows in time order, the unit failing right after its last row) and chooses every
setting by cross-validation grouped by unit (see :mod:`cloud.rul.search`), scored at
the kind of cut a test history is: whether to standardise signals per operating regime,
the feature window, the cap on the training target, whether to add a health index,
whether to weight units equally, the size of the tree ensemble. The shipped model is the
average of the winner's fold models (a bagged ensemble of exactly the models that were
scored, rather than one refit nobody scored), and the winner's held-out errors put
intervals around new predictions (:mod:`cloud.rul.intervals`), each unit counted once as
the test's question asks it and once at any age
(:func:`cloud.rul.truncation.calibration_weights`).

The target is piecewise linear: remaining life, capped. A healthy unit's sensors say
nothing about how long ago it started wearing, so asking the trees for more than the cap
only teaches them noise; the cap is chosen against the uncapped truth.

Fitted state is scikit-learn estimators, numpy arrays and plain values only, so the
storage layer can save it with skops. The model is immutable after ``fit`` and
``predict`` is safe from several threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from cloud.rul.intervals import IntervalTable, RulPrediction, calibrate_intervals
from cloud.rul.pipeline import FittedPipeline
from cloud.rul.regimes import RegimeScaler, propose_regime_count
from cloud.rul.search import SearchGrid, SearchResult, search
from cloud.rul.truncation import calibration_weights

__all__ = ["RulDataError", "RulModel", "RulPrediction", "SearchGrid"]


class RulDataError(ValueError):
    """Histories the model cannot use; the message says which one and why."""


def _ignore(_: str) -> None:
    """The default progress sink."""


class RulModel:
    """Remaining life from a unit's history so far, with a calibrated interval."""

    def __init__(
        self,
        pipelines: Sequence[FittedPipeline],
        intervals: IntervalTable,
        choices: Mapping[str, object],
    ) -> None:
        """Use :meth:`fit`; this only assembles fitted parts (the members to average)."""
        if not pipelines:
            raise RulDataError("a model needs at least one fitted pipeline")
        self._pipelines = tuple(pipelines)
        self._scaler: RegimeScaler = self._pipelines[0].scaler
        self._interval_edges = intervals.edges
        self._low_offsets = intervals.low_offsets
        self._high_offsets = intervals.high_offsets
        self._coverage = intervals.coverage
        self._choices = dict(choices)

    @classmethod
    def fit(
        cls,
        runs: Sequence[np.ndarray],
        *,
        condition_columns: Sequence[int] = (),
        coverage: float = 0.8,
        seed: int = 0,
        progress: Callable[[str], None] | None = None,
        grid: SearchGrid | None = None,
    ) -> RulModel:
        """Choose settings by grouped cross-validation, then fit on every run.

        ``runs``: one ``(rows, columns)`` array per unit, in time order, each ending at
        the unit's failure. ``condition_columns``: columns that are operating settings
        rather than health signals. ``coverage``: the nominal share of true remaining
        lives inside ``[low, high]``. ``grid``: the candidates (default: the full search;
        :meth:`SearchGrid.small` for quick looks). Raises :class:`RulDataError`.
        """
        grid = grid or SearchGrid()
        say = progress or _ignore
        checked = _check_runs(runs, condition_columns, coverage, grid.folds)
        columns = tuple(int(c) for c in condition_columns)
        conditions = np.vstack(checked)[:, list(columns)]
        proposed = propose_regime_count(conditions, seed) if columns else 1
        say(f"units={len(checked)} rows={sum(len(r) for r in checked)} regimes_proposed={proposed}")
        result = search(checked, columns, proposed, grid, seed, say)
        say(f"chosen {' '.join(f'{k}={v}' for k, v in result.best.describe().items())}")
        weight = calibration_weights([len(r) for r in checked], result.onsets)
        intervals = calibrate_intervals(
            result.held_out_predicted, result.held_out_truth, coverage, weight
        )
        choices = _choices(result, result.fold_models[0], grid)
        return cls(result.fold_models, intervals, choices)

    @property
    def cap(self) -> float:
        """The longest remaining life the model tells apart (its training target's cap,
        in the runs' time unit): a prediction near it says only that no failure shows
        within it."""
        return float(self._choices["rul_cap"])  # type: ignore[arg-type]

    @property
    def choices(self) -> Mapping[str, object]:
        """What cross-validation chose, and its held-out RMSE (``cv_rmse``), for reports."""
        return MappingProxyType(self._choices)

    @property
    def width(self) -> int:
        """Columns every history must have (as in training)."""
        return int(self._scaler.n_features_in_)

    def predict(self, history: np.ndarray) -> RulPrediction:
        """Remaining life after the last row of ``history`` (a unit's rows so far)."""
        return self.predict_many([history])[0]

    def predict_many(self, histories: Sequence[np.ndarray]) -> list[RulPrediction]:
        """:meth:`predict` for many units in one pass over the trees."""
        checked = [_check_array(h, f"history {i}", self.width) for i, h in enumerate(histories)]
        if not checked:
            return []
        table = IntervalTable(
            self._interval_edges, self._low_offsets, self._high_offsets, self._coverage
        )
        members = [pipeline.predict_last(checked) for pipeline in self._pipelines]
        return [table.interval(float(p)) for p in np.mean(members, axis=0)]


def _choices(result: SearchResult, pipeline: FittedPipeline, grid: SearchGrid) -> dict[str, object]:
    return {
        **result.best.describe(),
        "signals_kept": pipeline.scaler.signals_kept,
        "cv_rmse": round(result.best_score, 3),
        "cv_horizon": round(result.horizon, 1),
        "cv_folds": grid.folds,
        "ensemble": len(result.fold_models),
    }


def _check_runs(
    runs: Sequence[np.ndarray],
    condition_columns: Sequence[int],
    coverage: float,
    folds: int,
) -> list[np.ndarray]:
    if not 0.0 < coverage < 1.0:
        raise RulDataError(f"coverage must be strictly between 0 and 1, got {coverage}")
    if len(runs) < max(folds, 2):
        raise RulDataError(
            f"need at least {max(folds, 2)} run-to-failure histories for {folds}-fold "
            f"cross-validation, got {len(runs)}"
        )
    first = _check_array(runs[0], "run 0", None)
    width = first.shape[1]
    checked = [first] + [_check_array(r, f"run {i}", width) for i, r in enumerate(runs) if i]
    columns = list(condition_columns)
    if any(not 0 <= int(c) < width for c in columns) or len(set(columns)) != len(columns):
        raise RulDataError(
            f"condition_columns {columns} must be distinct column numbers below {width}"
        )
    if len(columns) >= width:
        raise RulDataError("every column is a condition column: no health signal is left")
    return checked


def _check_array(values: object, name: str, width: int | None) -> np.ndarray:
    """A finite ``(rows >= 1, width)`` float array, or a RulDataError naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise RulDataError(f"{name} is not numeric: {exc}") from exc
    if array.ndim != 2:
        raise RulDataError(f"{name} must be 2-D (rows, columns), got shape {array.shape}")
    if array.shape[0] < 1:
        raise RulDataError(f"{name} is empty: it needs at least one row")
    if width is not None and array.shape[1] != width:
        raise RulDataError(f"{name} has {array.shape[1]} columns, expected {width}")
    if array.shape[1] < 1:
        raise RulDataError(f"{name} has no columns")
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = (int(v) for v in np.argwhere(bad)[0])
        raise RulDataError(f"{name} has a missing or infinite value at row {row}, column {column}")
    return array
