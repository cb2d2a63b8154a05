"""NAB v1.1 scoring rules, reimplemented from the rules in ``shared/data/README.md``.

Pure functions over arrays so that the rules can be unit-tested on hand-made cases
without any data file. The benchmark driver (``benchmarks/nab.py``) maps label windows
to row indices and feeds the detector's score column here.

Rules (per application profile with weights A_TP, A_FP, A_FN):

* a row inside window ``[a, b]`` detected at threshold θ is worth
  ``σ(-(b - i + 1)/w) · A_TP / σ(-1)``; a window counts only its best (= earliest)
  detected row, or ``-A_FN`` when none of its rows is detected;
* a detected row outside every window costs ``-A_FP`` before the first window has ended,
  else ``σ(|i - b_prev| / (w_prev - 1)) · A_FP`` (σ is negative for positive y);
* rows of the probation period are never scored;
* one threshold for the whole corpus is swept over every distinct score.

A threshold swept on the files it is then scored on is an in-sample figure: it says how
well the best constant fits these files, not what a user who must fix the constant
beforehand will get. :func:`leave_one_category_out` gives the held-out figure (each NAB
category scored at the threshold chosen on the others), and :func:`flag_scores` turns the
detector's own ``is_anomaly`` flags into a score column, so that the flags a user gets
without any tuning are scored by the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FLAG_THRESHOLD",
    "PROFILES",
    "FileScoring",
    "HeldOut",
    "Profile",
    "Window",
    "best_threshold",
    "category_of",
    "false_alarm_rate",
    "file_score_at",
    "flag_scores",
    "group_by_category",
    "leave_one_category_out",
    "normalised_score",
    "prepare_file",
    "probation_rows",
    "raw_score_at",
    "row_values",
    "scaled_sigmoid",
]


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 0.11, 1.0),
    Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
)


@dataclass(frozen=True)
class Window:
    """An anomaly window as inclusive row indices."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def scaled_sigmoid(y: float) -> float:
    """NAB's σ: 2/(1+e^{5y}) − 1, clamped to −1 beyond y = 3."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n_rows: int) -> int:
    """Rows at the start of a file that may be learned from but are not scored."""
    return min(math.floor(0.15 * n_rows), 750)


def row_values(
    n_rows: int, windows: Sequence[Window], profile: Profile
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Value of a detection at each row, and the window index of each row (−1 outside).

    Windows must be sorted and disjoint.
    """
    values = np.empty(n_rows, dtype=np.float64)
    owner = np.full(n_rows, -1, dtype=np.intp)
    norm = scaled_sigmoid(-1.0)
    prev: Window | None = None
    k = 0
    for i in range(n_rows):
        while k < len(windows) and windows[k].end < i:
            prev = windows[k]
            k += 1
        if k < len(windows) and windows[k].start <= i <= windows[k].end:
            w = windows[k]
            y = -(w.end - i + 1) / w.length
            values[i] = scaled_sigmoid(y) * profile.a_tp / norm
            owner[i] = k
        elif prev is None:
            values[i] = -profile.a_fp
        else:
            y = abs(i - prev.end) / max(prev.length - 1, 1)
            values[i] = scaled_sigmoid(y) * profile.a_fp
    return values, owner


@dataclass(frozen=True)
class FileScoring:
    """Everything needed to evaluate one file's score column at any threshold.

    ``fp_scores`` are the scores of scored rows outside windows, sorted descending, with
    ``fp_cum`` the running sum of their values. Per window, ``steps[k]`` holds the rising
    running maxima of the scores over its scored rows and ``step_values[k]`` the value of
    the row where each maximum first appears: at threshold θ the earliest detected row is
    the one of the first maximum ≥ θ.
    """

    fp_scores: NDArray[np.float64]
    fp_cum: NDArray[np.float64]
    steps: tuple[NDArray[np.float64], ...]
    step_values: tuple[NDArray[np.float64], ...]
    a_fn: float


def prepare_file(
    scores: NDArray[np.float64], windows: Sequence[Window], probation: int, profile: Profile
) -> FileScoring:
    """Precompute one file's contribution as a function of the threshold."""
    n = len(scores)
    values, owner = row_values(n, windows, profile)
    scored = np.arange(n) >= probation
    outside = scored & (owner < 0)
    order = np.argsort(-scores[outside], kind="stable")
    fp_scores = scores[outside][order]
    fp_cum = np.cumsum(values[outside][order])
    steps: list[NDArray[np.float64]] = []
    step_values: list[NDArray[np.float64]] = []
    for k in range(len(windows)):
        rows = np.flatnonzero(scored & (owner == k))
        maxima: list[float] = []
        vals: list[float] = []
        for i in rows:
            if not maxima or scores[i] > maxima[-1]:
                maxima.append(float(scores[i]))
                vals.append(float(values[i]))
        steps.append(np.asarray(maxima, dtype=np.float64))
        step_values.append(np.asarray(vals, dtype=np.float64))
    return FileScoring(fp_scores, fp_cum, tuple(steps), tuple(step_values), profile.a_fn)


def file_score_at(fs: FileScoring, thresholds: NDArray[np.float64]) -> NDArray[np.float64]:
    """Raw score of one file at each threshold (vectorised)."""
    # number of outside rows with score >= θ (fp_scores is descending)
    count = len(fs.fp_scores) - np.searchsorted(fs.fp_scores[::-1], thresholds, side="left")
    total = np.where(count > 0, fs.fp_cum[np.maximum(count - 1, 0)], 0.0)
    for maxima, vals in zip(fs.steps, fs.step_values, strict=True):
        if len(maxima) == 0:
            total = total - fs.a_fn
            continue
        k = np.searchsorted(maxima, thresholds, side="left")
        hit = k < len(maxima)
        total = total + np.where(hit, vals[np.minimum(k, len(vals) - 1)], -fs.a_fn)
    return total


def best_threshold(files: Sequence[FileScoring]) -> tuple[float, float]:
    """Sweep one global threshold over every distinct score; return (θ, best raw score).

    θ = +inf stands for "nothing detected".
    """
    candidates = [fs.fp_scores for fs in files] + [m for fs in files for m in fs.steps]
    thresholds = np.unique(np.concatenate([*candidates, np.array([np.inf])]))
    total = np.zeros(len(thresholds))
    for fs in files:
        total += file_score_at(fs, thresholds)
    best = int(np.argmax(total))
    return float(thresholds[best]), float(total[best])


def normalised_score(raw: float, n_windows: int, profile: Profile) -> float:
    """100 for a perfect detector, 0 for one that detects nothing."""
    perfect = profile.a_tp * n_windows
    null = -profile.a_fn * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def raw_score_at(files: Sequence[FileScoring], threshold: float) -> float:
    """Raw score of a set of files at one fixed threshold."""
    theta = np.array([threshold], dtype=np.float64)
    return float(sum(float(file_score_at(fs, theta)[0]) for fs in files))


def category_of(name: str) -> str:
    """NAB's category of a file: the first component of its name (``realTraffic/x.csv``).

    Files of one category come from one source (one kind of machine, or one generator), so
    a threshold chosen on a category's own files has seen that source; a held-out category
    is the closest the corpus offers to a data set the detector has never met.
    """
    return name.split("/", 1)[0]


def group_by_category(names: Sequence[str]) -> dict[str, list[int]]:
    """Indices of the files of each category, categories in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(category_of(name), []).append(i)
    return groups


@dataclass(frozen=True)
class HeldOut:
    """One category scored at the threshold chosen on all the other categories."""

    category: str
    indices: tuple[int, ...]
    threshold: float
    raw: float


def leave_one_category_out(files: Sequence[FileScoring], names: Sequence[str]) -> list[HeldOut]:
    """Score every category at the threshold that :func:`best_threshold` picks elsewhere.

    The threshold for a category never sees that category's scores, so the summed raw
    score predicts what a fixed threshold earns on new data (the in-sample sweep cannot).
    Needs at least two categories.
    """
    if len(files) != len(names):
        raise ValueError(f"{len(files)} files but {len(names)} names")
    groups = group_by_category(names)
    if len(groups) < 2:
        raise ValueError("leave-one-category-out needs at least two categories")
    out = []
    for category, indices in groups.items():
        held = set(indices)
        others = [fs for i, fs in enumerate(files) if i not in held]
        theta, _ = best_threshold(others)
        raw = raw_score_at([files[i] for i in indices], theta)
        out.append(HeldOut(category, tuple(indices), theta, raw))
    return out


FLAG_THRESHOLD = 0.5
"""Threshold at which :func:`flag_scores` columns detect exactly the flagged rows."""


def flag_scores(flags: NDArray[np.bool_]) -> NDArray[np.float64]:
    """A score column (1 where flagged, else 0) that detects exactly the flagged rows at
    :data:`FLAG_THRESHOLD`, so that the detector's own decisions go through the same NAB
    rules as a swept threshold, with no constant chosen by the benchmark."""
    return np.asarray(flags, dtype=bool).astype(np.float64)


def false_alarm_rate(flags: Sequence[NDArray[np.bool_]], probations: Sequence[int]) -> float:
    """Flagged rows / scored rows (after each file's probation) over files without anomalies.

    Every flag on such a file is a false alarm, so this is what a user of a healthy machine
    would see. NaN when no row is scored: a rate over nothing must not read as perfect.
    """
    flagged = 0
    scored = 0
    for f, p in zip(flags, probations, strict=True):
        rest = np.asarray(f, dtype=bool)[p:]
        flagged += int(np.count_nonzero(rest))
        scored += len(rest)
    return flagged / scored if scored else math.nan
