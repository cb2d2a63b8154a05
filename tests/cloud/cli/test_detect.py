"""`aftercare detect` CSV adapter: output shape, causality, clear errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from cloud.cli.detect import run_detect
from tests.cloud.detect.series import with_spike


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def nab_like(path: Path, n: int = 400, delimiter: str = ",", time_name: str = "timestamp") -> Path:
    values = with_spike(n, at=350)
    lines = [f"{time_name}{delimiter}value"]
    for i, v in enumerate(values):
        lines.append(f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00{delimiter}{v:.4f}")
    return write(path, "\n".join(lines) + "\n")


def detect(path: Path, out: Path | None = None) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_detect(path, out, stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_scores_every_row(tmp_path: Path) -> None:
    code, out, _ = detect(nab_like(tmp_path / "in.csv"))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 400
    assert list(rows[0]) == ["timestamp", "anomaly_score", "is_anomaly"]
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert int(np.argmax(scores)) == 350
    assert rows[350]["is_anomaly"] == "1"


def test_writes_output_file_and_is_causal(tmp_path: Path) -> None:
    full = nab_like(tmp_path / "full.csv")
    lines = full.read_text().splitlines()
    prefix = write(tmp_path / "prefix.csv", "\n".join(lines[:301]) + "\n")
    assert detect(full, tmp_path / "a.csv")[0] == 0
    assert detect(prefix, tmp_path / "b.csv")[0] == 0
    a = (tmp_path / "a.csv").read_text().splitlines()
    b = (tmp_path / "b.csv").read_text().splitlines()
    assert b == a[: len(b)]


def test_semicolon_and_datetime_column(tmp_path: Path) -> None:
    code, out, _ = detect(nab_like(tmp_path / "s.csv", delimiter=";", time_name="datetime"))
    assert code == 0
    assert len(out.splitlines()) == 401


def test_missing_and_constant_values_do_not_crash(tmp_path: Path) -> None:
    lines = ["timestamp,a,b"] + [f"{i * 60},{'' if i % 5 == 0 else 1.0},nan" for i in range(300)]
    code, out, _ = detect(write(tmp_path / "c.csv", "\n".join(lines)))
    assert code == 0
    assert {r.split(",")[1] for r in out.splitlines()[1:]} == {"0.000000"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("timestamp,value\n", "no data rows"),
        ("when,value\n1,2\n", "no timestamp column"),
        ("timestamp,name\n2024-01-01,abc\n", "no numeric column"),
        ("timestamp,value\nyesterday,1\n", "line 2: cannot parse timestamp"),
        ("timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:01,x\n", "line 3"),
        ("timestamp,value\n2024-01-01 00:00,1,2\n", "line 2: 3 fields"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path: Path, text: str, message: str) -> None:
    code, out, err = detect(write(tmp_path / "bad.csv", text))
    assert code == 2
    assert out == ""
    assert message in err
