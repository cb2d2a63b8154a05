"""SKAB benchmark helpers and its report: anomaly-free FAR, per-group figures.

Data is generated here: the SKAB files are not in a user's clone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import skab
from cloud.cli.detect import Table


def table(metrics: dict[str, list[float]]) -> Table:
    n = len(next(iter(metrics.values())))
    return Table([str(i) for i in range(n)], [float(i) for i in range(n)], metrics, [])


def test_strip_labels_removes_label_columns() -> None:
    stripped, labels = skab.strip_labels(
        table({"x": [1.0, 2.0, 3.0], "anomaly": [0.0, 1.0, 0.0], "changepoint": [0.0] * 3})
    )
    assert list(stripped.metrics) == ["x"]
    assert labels.tolist() == [False, True, False]


def test_file_without_labels_is_normal_throughout() -> None:
    stripped, labels = skab.strip_labels(table({"x": [1.0, 2.0]}))
    assert list(stripped.metrics) == ["x"]
    assert labels.dtype == bool
    assert labels.tolist() == [False, False]


def test_group_is_folder_under_data() -> None:
    data = Path("/d/data")
    assert skab.group_of(data / "valve1" / "3.csv", data) == "valve1"
    assert skab.group_of(data / "anomaly-free" / "anomaly-free.csv", data) == "anomaly-free"


def result(group: str, counts: tuple[int, int, int, int]) -> skab.FileResult:
    return skab.FileResult(f"{group}/f.csv", group, sum(counts) + skab.TRAIN_ROWS, counts)


def test_pooled_sums_rows_not_file_rates() -> None:
    rs = [result("v", (1, 1, 0, 8)), result("v", (0, 9, 0, 1))]
    assert skab.pooled(rs) == (1, 10, 0, 9)
    assert skab.metrics_of(*skab.pooled(rs))[1] == pytest.approx(10 / 19)


def test_by_group_keeps_first_seen_order() -> None:
    rs = [result("valve1", (1, 0, 0, 1)), result("anomaly-free", (0, 1, 0, 9))]
    rs.append(result("valve1", (0, 0, 1, 1)))
    groups = skab.by_group(rs)
    assert list(groups) == ["valve1", "anomaly-free"]
    assert len(groups["valve1"]) == 2


def test_group_line_has_no_f1_without_anomalies() -> None:
    line = skab.group_line("anomaly-free", [result("anomaly-free", (0, 3, 0, 97))])
    assert line.split() == ["anomaly-free", "1", "100", "n/a", "0.0300", "n/a"]
    line = skab.group_line("valve1", [result("valve1", (2, 0, 2, 6))])
    assert line.split() == ["valve1", "1", "10", "0.667", "0.0000", "0.500"]


def write_file(path: Path, n: int, labelled: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    truth = np.zeros(n, dtype=int)
    if labelled:
        x[600:650] += 8.0
        truth[600:650] = 1
    header = "datetime;a;b" + (";anomaly;changepoint" if labelled else "")
    lines = [header]
    for i in range(n):
        stamp = f"2020-02-08 {10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        row = f"{stamp};{x[i, 0]:.5f};{x[i, 1]:.5f}"
        lines.append(row + (f";{truth[i]};0" if labelled else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_main_reports_anomaly_free_far_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_file(tmp_path / "data" / "valve1" / "0.csv", 800, labelled=True, seed=1)
    write_file(tmp_path / "data" / "anomaly-free" / "anomaly-free.csv", 800, False, seed=2)
    assert skab.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no constant is chosen from data" in out
    last = out.strip().splitlines()[-1]
    fields = dict(part.split("=") for part in last.split()[1:])
    assert list(fields) == [
        "files",
        "F1",
        "FAR",
        "MAR",
        "anomaly_free_far",
        "anomaly_free_files",
        "chosen_from_data",
    ]
    assert fields["files"] == "1"
    assert fields["anomaly_free_files"] == "1"
    assert 0.0 <= float(fields["anomaly_free_far"]) <= 1.0
    assert fields["chosen_from_data"] == "none"
