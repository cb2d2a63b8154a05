"""Held-out NAB figures: categories, thresholds chosen elsewhere, the detector's own flags.

Hand-made arrays only: the NAB data is not in a user's clone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks import nab
from benchmarks.nab_scoring import (
    FLAG_THRESHOLD,
    PROFILES,
    FileScoring,
    Window,
    best_threshold,
    category_of,
    false_alarm_rate,
    file_score_at,
    flag_scores,
    group_by_category,
    leave_one_category_out,
    prepare_file,
    raw_score_at,
)

STANDARD = PROFILES[0]


def prepared(scores: list[float], windows: list[Window], probation: int = 0) -> FileScoring:
    return prepare_file(np.asarray(scores, dtype=float), windows, probation, STANDARD)


def spike(n: int, at: dict[int, float]) -> list[float]:
    s = [0.0] * n
    for i, v in at.items():
        s[i] = v
    return s


def test_category_is_first_path_component() -> None:
    assert category_of("realKnownCause/nyc_taxi.csv") == "realKnownCause"
    assert category_of("flat.csv") == "flat.csv"


def test_group_by_category_keeps_first_seen_order() -> None:
    names = ["b/1.csv", "a/1.csv", "b/2.csv"]
    assert group_by_category(names) == {"b": [0, 2], "a": [1]}


def test_raw_score_at_sums_files() -> None:
    f1 = prepared(spike(30, {12: 0.9}), [Window(10, 19)])
    f2 = prepared(spike(30, {}), [Window(10, 19)])
    expected = sum(float(file_score_at(f, np.array([0.5]))[0]) for f in (f1, f2))
    assert raw_score_at([f1, f2], 0.5) == pytest.approx(expected)


def corpus() -> tuple[list[FileScoring], list[str]]:
    """Category a wants a low threshold (its anomaly scores 0.4), b and c a high one
    (a 0.6 false positive and a 0.9 true positive)."""
    w = [Window(10, 19)]
    files = [
        prepared(spike(30, {12: 0.4}), w),
        prepared(spike(30, {12: 0.9, 25: 0.6}), w),
        prepared(spike(30, {11: 0.9, 27: 0.6}), w),
    ]
    return files, ["a/1.csv", "b/1.csv", "c/1.csv"]


def test_threshold_is_chosen_on_the_other_categories() -> None:
    files, names = corpus()
    held = {h.category: h for h in leave_one_category_out(files, names)}
    assert set(held) == {"a", "b", "c"}
    theta_a, _ = best_threshold([files[1], files[2]])
    assert held["a"].threshold == theta_a
    assert held["a"].threshold > 0.6  # b and c want to skip their 0.6 false positives
    # so a's anomaly at 0.4 is missed when a is held out: one window, nothing detected
    assert held["a"].raw == pytest.approx(-STANDARD.a_fn)
    assert held["a"].indices == (0,)
    theta_b, _ = best_threshold([files[0], files[2]])
    assert held["b"].threshold == theta_b
    assert held["b"].raw == pytest.approx(raw_score_at([files[1]], theta_b))


def test_held_out_threshold_ignores_the_held_out_scores() -> None:
    files, names = corpus()
    before = leave_one_category_out(files, names)[0]
    changed = [prepared(spike(30, {12: 0.05, 3: 0.99}), [Window(10, 19)]), *files[1:]]
    after = leave_one_category_out(changed, names)[0]
    assert after.category == "a"
    assert after.threshold == before.threshold


def test_held_out_never_beats_in_sample() -> None:
    files, names = corpus()
    loco = sum(h.raw for h in leave_one_category_out(files, names))
    _, in_sample = best_threshold(files)
    assert loco <= in_sample + 1e-12


def test_loco_needs_two_categories_and_matching_names() -> None:
    files, _ = corpus()
    with pytest.raises(ValueError, match="two categories"):
        leave_one_category_out(files, ["a/1.csv", "a/2.csv", "a/3.csv"])
    with pytest.raises(ValueError, match="names"):
        leave_one_category_out(files, ["a/1.csv"])


def test_flags_detect_exactly_the_flagged_rows() -> None:
    flags = np.zeros(30, dtype=bool)
    flags[10] = True  # left edge of the window: full A_TP
    own = prepare_file(flag_scores(flags), [Window(10, 19)], 0, STANDARD)
    assert raw_score_at([own], FLAG_THRESHOLD) == pytest.approx(1.0)
    flags[2] = True  # a false alarm before any window ends costs A_FP
    own = prepare_file(flag_scores(flags), [Window(10, 19)], 0, STANDARD)
    assert raw_score_at([own], FLAG_THRESHOLD) == pytest.approx(1.0 - STANDARD.a_fp)


def test_a_lasting_flag_counts_every_row_outside_windows() -> None:
    flags = np.zeros(40, dtype=bool)
    flags[:5] = True  # five flagged rows, no window: five false positives
    own = prepare_file(flag_scores(flags), [], 0, STANDARD)
    assert raw_score_at([own], FLAG_THRESHOLD) == pytest.approx(-5 * STANDARD.a_fp)


def test_false_alarm_rate_skips_probation() -> None:
    a = np.array([True, True, False, True])  # probation 2: one of two scored rows
    b = np.array([False, False, False, False, False, False])  # probation 0: none of six
    assert false_alarm_rate([a, b], [2, 0]) == pytest.approx(1 / 8)
    assert math.isnan(false_alarm_rate([], []))


def scored_file(scores: list[float], flags: list[bool]) -> nab.ScoredFile:
    n = len(scores)
    return nab.ScoredFile(
        [float(i) for i in range(n)], np.asarray(scores, float), np.asarray(flags, bool)
    )


def test_noanomaly_far_uses_only_the_no_anomaly_category() -> None:
    n = 100  # probation 15
    quiet = [False] * n
    noisy = [False] * 15 + [True] * 17 + [False] * 68
    names = ["artificialNoAnomaly/x.csv", "realTraffic/y.csv"]
    scored = [scored_file([0.0] * n, noisy), scored_file([0.0] * n, [True] * n)]
    assert nab.noanomaly_far(names, scored) == pytest.approx(17 / 85)
    scored = [scored_file([0.0] * n, quiet), scored_file([0.0] * n, [True] * n)]
    assert nab.noanomaly_far(names, scored) == 0.0


def test_evaluate_combines_in_sample_loco_and_own_flags() -> None:
    n = 100  # probation 15
    names = ["a/1.csv", "b/1.csv", "c/1.csv"]
    windows = {name: [Window(40, 49)] for name in names}
    flags = [False] * n
    flags[40] = True
    scored = [
        scored_file(spike(n, {42: 0.4}), flags),
        scored_file(spike(n, {41: 0.9, 80: 0.6}), flags),
        scored_file(spike(n, {40: 0.9, 90: 0.6}), flags),
    ]
    ev = nab.evaluate(names, scored, windows, STANDARD)
    assert ev.in_sample_raw == pytest.approx(best_threshold(ev.files)[1])
    assert ev.loco_raw == pytest.approx(sum(h.raw for h in ev.loco))
    assert ev.loco_raw <= ev.in_sample_raw
    assert ev.own_raw == pytest.approx(3.0)  # every window flagged at its left edge


def write_corpus(root: Path) -> None:
    """Two categories of small sine series; one labelled window with a jump each."""
    rng = np.random.default_rng(7)
    labels: dict[str, list[list[str]]] = {}
    for name, jump in (("catA/one.csv", True), ("catB/two.csv", True), ("catB/calm.csv", False)):
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        stamps = [f"2020-01-01 {h:02d}:{m:02d}:00" for h in range(10) for m in range(0, 60, 2)]
        values = np.sin(np.arange(len(stamps)) / 5) + 0.05 * rng.standard_normal(len(stamps))
        if jump:
            values[200:220] += 5.0
        rows = "\n".join(f"{t},{v:.4f}" for t, v in zip(stamps, values, strict=True))
        path.write_text("timestamp,value\n" + rows + "\n")
        labels[name] = [[stamps[195], stamps[225]]] if jump else []
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_main_last_line_keeps_old_keys_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_corpus(tmp_path)
    assert nab.main([str(tmp_path), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "leave-one-category-out" in out
    last = out.strip().splitlines()[-1]
    keys = [part.split("=")[0] for part in last.split()[1:]]
    assert last.startswith("NAB standard=")
    assert keys == [
        "standard",
        "reward_low_FP",
        "reward_low_FN",
        "rows",
        "scoring_s",
        "loco_standard",
        "loco_low_FP",
        "loco_low_FN",
        "own_flags_standard",
        "noanomaly_far",
    ]
