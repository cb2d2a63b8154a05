"""The C-MAPSS benchmark end to end on a small synthetic fleet written in the C-MAPSS
text format (the real files are not in a user's clone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarks import cmapss
from cloud.rul.model import SearchGrid
from tests.cloud.rul.synthetic import unit_history


def cmapss_rows(unit: int, rows: np.ndarray) -> list[str]:
    """C-MAPSS layout: unit, cycle, 3 settings, 21 sensors (ours padded with constants)."""
    settings = np.hstack([rows[:, :2], np.full((len(rows), 1), 100.0)])
    sensors = np.hstack([rows[:, 2:], np.full((len(rows), 21 - (rows.shape[1] - 2)), 518.67)])
    return [
        f"{unit} {cycle} " + " ".join(f"{v:.4f}" for v in np.concatenate([s, m])) + "  "
        for cycle, (s, m) in enumerate(zip(settings, sensors, strict=True), start=1)
    ]


def write_subset(directory: Path, units: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    train, test, truth = [], [], []
    for unit in range(1, units + 1):
        train += cmapss_rows(unit, unit_history(rng, int(rng.integers(80, 201))))
        life = int(rng.integers(80, 201))
        cut = int(rng.integers(10, life))
        test += cmapss_rows(unit, unit_history(rng, life, truncate_at=cut))
        truth.append(life - cut)
    (directory / "train_FD009.txt").write_text("\n".join(train) + "\n")
    (directory / "test_FD009.txt").write_text("\n".join(test) + "\n")
    (directory / "RUL_FD009.txt").write_text("\n".join(str(t) for t in truth) + "\n")
    return np.array(truth)


def test_nasa_score_punishes_late_more_than_early() -> None:
    assert cmapss.nasa_score(np.array([0.0])) == 0.0
    assert cmapss.nasa_score(np.array([10.0])) == pytest.approx(np.e - 1)
    assert cmapss.nasa_score(np.array([-13.0])) == pytest.approx(np.e - 1)
    assert cmapss.nasa_score(np.array([20.0])) > cmapss.nasa_score(np.array([-20.0]))


def test_main_writes_predictions_and_a_last_line_of_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = write_subset(tmp_path, units=24, seed=11)
    monkeypatch.setattr(cmapss, "SEARCH_GRID", SearchGrid.small())
    out_file = tmp_path / "predictions.csv"
    argv = ["--data-dir", str(tmp_path), "--subset", "FD009", "--predictions-out", str(out_file)]
    with threadpool_limits(1):
        assert cmapss.main(argv) == 0
    lines = out_file.read_text().splitlines()
    assert lines[0] == "unit,predicted_rul"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(u) for u, _ in rows] == list(range(1, 25))
    predicted = np.array([float(p) for _, p in rows])
    assert np.all(predicted >= 0)

    captured = capsys.readouterr()
    assert "cv regimes=" in captured.err  # progress goes to stderr
    last = captured.out.strip().splitlines()[-1]
    fields = dict(part.split("=") for part in last.split())
    assert list(fields)[:7] == [
        "subset",
        "units",
        "rmse",
        "nasa_score",
        "coverage",
        "nominal_coverage",
        "rmse_capped_truth",
    ]
    assert {"cv_rmse", "window", "rul_cap", "regimes", "seconds", "ensemble"} <= set(fields)
    assert fields["subset"] == "FD009"
    assert fields["units"] == "24"
    assert float(fields["rmse"]) == pytest.approx(
        np.sqrt(np.mean((predicted - truth) ** 2)), abs=0.02
    )
    assert 0.0 <= float(fields["coverage"]) <= 1.0


def test_mismatched_truth_file_is_refused(tmp_path: Path) -> None:
    write_subset(tmp_path, units=4, seed=12)
    (tmp_path / "RUL_FD009.txt").write_text("5\n")
    test = cmapss.read_units(tmp_path / "test_FD009.txt")
    with pytest.raises(ValueError, match="4 test units but 1 true RUL"):
        cmapss.evaluate(None, test, np.array([5.0]))  # type: ignore[arg-type]
