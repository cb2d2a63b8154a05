"""NAB benchmark: the streaming scorer of ``aftercare detect`` on NAB files.

Usage: ``python -m benchmarks.nab [DATA_DIR] [--jobs N]`` (default ``../shared/data/nab``).

Each file is scored by :func:`cloud.detect_csv.score_table` (the exact code path of
``aftercare detect``; its ``anomaly_score`` column and its ``is_anomaly`` flags), then
scored with the NAB rules of :mod:`benchmarks.nab_scoring`. Three figures per profile:

* in-sample: one threshold swept over the whole corpus (NAB's own protocol, and how the
  published scores were obtained). It fits the threshold to the files it scores, so it
  overstates what a fixed threshold earns on new data;
* leave-one-category-out (LOCO): each category is scored at the threshold swept on the
  other categories only, and the held-out raw scores are summed. No constant is ever
  chosen on all files at once, so this predicts a held-out result;
* own flags: the detector's ``is_anomaly`` as it is (no threshold at all), i.e. what a
  user gets without tuning; plus the share of rows it flags on the files without any
  anomaly (artificialNoAnomaly), its false-alarm rate on healthy data.

Prints a table per file, a table per category, and, last, one line of key=value figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.nab_scoring import (
    FLAG_THRESHOLD,
    PROFILES,
    FileScoring,
    HeldOut,
    Profile,
    Window,
    best_threshold,
    category_of,
    false_alarm_rate,
    file_score_at,
    flag_scores,
    group_by_category,
    leave_one_category_out,
    normalised_score,
    prepare_file,
    probation_rows,
    raw_score_at,
)
from cloud.cli.detect import read_table, score_table
from cloud.detect import MonitorConfig

PUBLISHED = {"ARTime": 73.55, "Numenta HTM": 69.52, "CAD OSE": 66.13, "Windowed Gaussian": 37.70}
NO_ANOMALY_CATEGORY = "artificialNoAnomaly"


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


@dataclass(frozen=True)
class ScoredFile:
    """What the detector said about one file: its score column and its own flags."""

    times_s: list[float]
    scores: np.ndarray
    flags: np.ndarray


def score_file(path: Path) -> ScoredFile:
    """Epoch seconds, ``anomaly_score`` and ``is_anomaly`` per row, as ``aftercare detect``.

    NAB's protocol lets a detector learn from the probation period: it is the warm-up
    (as SKAB's training part is for ``benchmarks.skab``); nothing else is set per file.
    """
    table = read_table(path)
    config = MonitorConfig(warmup_samples=probation_rows(len(table.times_s)))
    assessments = score_table(table, config)
    scores = np.array([a.score for a in assessments], dtype=np.float64)
    flags = np.array([a.is_anomaly for a in assessments], dtype=bool)
    return ScoredFile(table.times_s, scores, flags)


@dataclass(frozen=True)
class Evaluation:
    """All figures of one profile. ``own_files`` score the flags at FLAG_THRESHOLD."""

    profile: Profile
    files: list[FileScoring]
    own_files: list[FileScoring]
    in_sample_theta: float
    in_sample_raw: float
    loco: list[HeldOut]

    @property
    def loco_raw(self) -> float:
        return sum(h.raw for h in self.loco)

    @property
    def own_raw(self) -> float:
        return raw_score_at(self.own_files, FLAG_THRESHOLD)


def evaluate(
    names: Sequence[str],
    scored: Sequence[ScoredFile],
    windows: dict[str, list[Window]],
    profile: Profile,
) -> Evaluation:
    """In-sample sweep, leave-one-category-out and own-flag scores for one profile."""
    files, own = [], []
    for name, sf in zip(names, scored, strict=True):
        p = probation_rows(len(sf.scores))
        files.append(prepare_file(sf.scores, windows[name], p, profile))
        own.append(prepare_file(flag_scores(sf.flags), windows[name], p, profile))
    theta, raw = best_threshold(files)
    return Evaluation(profile, files, own, theta, raw, leave_one_category_out(files, names))


def noanomaly_far(names: Sequence[str], scored: Sequence[ScoredFile]) -> float:
    """False-alarm rate of the own flags on the artificialNoAnomaly files."""
    picked = [
        sf for n, sf in zip(names, scored, strict=True) if category_of(n) == NO_ANOMALY_CATEGORY
    ]
    return false_alarm_rate(
        [sf.flags for sf in picked], [probation_rows(len(sf.flags)) for sf in picked]
    )


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
        n: label_windows(sf.times_s, windows_json[n]) for n, sf in zip(names, scored, strict=True)
    }
    n_windows = sum(len(w) for w in windows.values())
    evals = [evaluate(names, scored, windows, profile) for profile in PROFILES]
    standard = evals[0]
    _print_table(names, scored, windows, standard.files, standard.in_sample_theta)
    _print_categories(names, scored, windows, standard)
    far = noanomaly_far(names, scored)
    _print_summary(evals, n_windows, len(names), sum(len(sf.scores) for sf in scored), elapsed, far)
    return 0


def _detections(sf: ScoredFile, theta: float) -> np.ndarray:
    """Scored rows (after probation) with a score at or above θ."""
    p = probation_rows(len(sf.scores))
    return np.flatnonzero(sf.scores[p:] >= theta) + p


def _flagged(sf: ScoredFile) -> int:
    """Scored rows (after probation) that the detector flagged itself."""
    return int(np.count_nonzero(sf.flags[probation_rows(len(sf.flags)) :]))


def _print_table(
    names: Sequence[str],
    scored: Sequence[ScoredFile],
    windows: dict[str, list[Window]],
    files: Sequence[FileScoring],
    theta: float,
) -> None:
    print(f"{'file':58s} {'rows':>6s} {'win':>3s} {'hit':>3s} {'det':>4s} {'score':>7s}")
    for name, sf, fs in zip(names, scored, files, strict=True):
        det = _detections(sf, theta)
        hits = sum(any(w.start <= d <= w.end for d in det) for w in windows[name])
        value = float(file_score_at(fs, np.array([theta]))[0])
        n = len(sf.scores)
        print(f"{name:58s} {n:6d} {len(windows[name]):3d} {hits:3d} {len(det):4d} {value:7.2f}")


def _figure(raw: float, n_windows: int, profile: Profile) -> str:
    """Normalised score, or the raw score (marked) where there is no window to normalise by."""
    if n_windows == 0:
        return f"raw {raw:.2f}"
    return f"{normalised_score(raw, n_windows, profile):.2f}"


def _print_categories(
    names: Sequence[str],
    scored: Sequence[ScoredFile],
    windows: dict[str, list[Window]],
    ev: Evaluation,
) -> None:
    """Per held-out category: the threshold chosen on the others, and three figures.

    ``det`` counts scored rows at or above that threshold (all false on a category without
    windows); ``flags`` counts scored rows the detector flagged itself. ``in_sample`` is
    the category at the threshold swept on all files, for comparison with ``held_out``.
    """
    print()
    print(f"leave-one-category-out, {ev.profile.name} profile (threshold chosen on the others)")
    print(
        f"{'category':22s} {'files':>5s} {'win':>3s} {'theta':>8s} {'det':>5s} "
        f"{'held_out':>10s} {'in_sample':>10s} {'flags':>6s} {'own_flags':>10s}"
    )
    groups = group_by_category(names)
    for held in ev.loco:
        idx = groups[held.category]
        n_win = sum(len(windows[names[i]]) for i in idx)
        det = sum(len(_detections(scored[i], held.threshold)) for i in idx)
        flags = sum(_flagged(scored[i]) for i in idx)
        in_raw = raw_score_at([ev.files[i] for i in idx], ev.in_sample_theta)
        own_raw = raw_score_at([ev.own_files[i] for i in idx], FLAG_THRESHOLD)
        figures = [_figure(r, n_win, ev.profile) for r in (held.raw, in_raw, own_raw)]
        print(
            f"{held.category:22s} {len(idx):5d} {n_win:3d} {held.threshold:8.4f} {det:5d} "
            f"{figures[0]:>10s} {figures[1]:>10s} {flags:6d} {figures[2]:>10s}"
        )


def _print_summary(
    evals: Sequence[Evaluation],
    n_windows: int,
    n_files: int,
    n_rows: int,
    elapsed: float,
    far: float,
) -> None:
    print()
    print(f"{'detector':28s} {'standard':>9s} {'low_FP':>9s} {'low_FN':>9s}")
    ours = [normalised_score(e.in_sample_raw, n_windows, e.profile) for e in evals]
    loco = [normalised_score(e.loco_raw, n_windows, e.profile) for e in evals]
    own = [normalised_score(e.own_raw, n_windows, e.profile) for e in evals]
    print(f"{'aftercare StreamMonitor':28s} " + " ".join(f"{v:9.2f}" for v in ours))
    for name, value in PUBLISHED.items():
        print(f"{name:28s} {value:9.2f} {'':>9s} {'':>9s}")
    print(f"{'aftercare held out (LOCO)':28s} " + " ".join(f"{v:9.2f}" for v in loco))
    print(f"{'aftercare own is_anomaly':28s} " + " ".join(f"{v:9.2f}" for v in own))
    thetas = " ".join(f"{e.in_sample_theta:.4f}" for e in evals)
    print(f"thresholds (score units): {thetas}; {n_files} files, {n_windows} windows")
    print("in-sample (StreamMonitor row and published): one threshold swept over all files;")
    print("held out (LOCO): threshold swept on the other categories; own is_anomaly: none")
    print(f"own is_anomaly false-alarm rate on {NO_ANOMALY_CATEGORY}: {far:.4f} of scored rows")
    print(
        f"NAB standard={ours[0]:.2f} reward_low_FP={ours[1]:.2f} reward_low_FN={ours[2]:.2f} "
        f"rows={n_rows} scoring_s={elapsed:.1f} "
        f"loco_standard={loco[0]:.2f} loco_low_FP={loco[1]:.2f} loco_low_FN={loco[2]:.2f} "
        f"own_flags_standard={own[0]:.2f} noanomaly_far={far:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
