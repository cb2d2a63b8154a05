"""CSV adapter for ``aftercare detect INPUT.csv [-o OUT.csv]``.

Reads a time series table, runs the same :class:`~cloud.detect.StreamMonitor` the cloud
runs per device, and writes ``timestamp,anomaly_score,is_anomaly`` (one row per input
row, in input order). Scores are causal: row t depends only on rows ≤ t.

Input rules (errors exit with code 2 and say which line and what to do):

* the delimiter is sniffed (``,``, ``;``, tab or ``|``; SKAB files use ``;``);
* the time column is the one named ``timestamp`` or else the first whose name contains
  ``time`` or ``date``; values are ISO 8601 (naive = UTC) or epoch seconds. Rows are
  scored in file order; a timestamp that steps back (a clock correction) is accepted;
* every other column whose first non-empty value is a number is a metric; other columns
  are ignored (and named on stderr). Label columns (``anomaly``, ``changepoint``) are
  numbers too: remove them before scoring, or the labels become inputs;
* an empty cell or ``nan``/``NA`` is a missing value: it carries no evidence, so a row
  whose values are all missing scores 0. A constant series scores 0 until it changes.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the detector (numpy) loads when a file is scored, not with the CLI
    from cloud.detect import Assessment, MonitorConfig

__all__ = ["CsvInputError", "Table", "read_table", "run_detect", "score_table"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    detect = commands.add_parser(
        "detect", help="score a time-series CSV with the cloud's streaming detector"
    )
    detect.add_argument("input", type=Path, help="CSV with a timestamp and numeric columns")
    detect.add_argument("-o", "--output", type=Path, help="output CSV (default: stdout)")
    detect.set_defaults(run=lambda args: run_detect(args.input, args.output, sys.stdout))


_MISSING = {"", "nan", "na", "n/a", "null", "none"}


class CsvInputError(ValueError):
    """The input file cannot be scored; the message says where and why."""


@dataclass(frozen=True)
class Table:
    """A parsed input: raw timestamp strings, epoch seconds and metric columns."""

    timestamps: list[str]
    times_s: list[float]
    metrics: dict[str, list[float]]
    ignored: list[str]


def _sniff(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _time_column(header: Sequence[str]) -> int:
    names = [h.strip().lower() for h in header]
    if "timestamp" in names:
        return names.index("timestamp")
    for i, name in enumerate(names):
        if "time" in name or "date" in name:
            return i
    raise CsvInputError(
        f"no timestamp column in header {list(header)}: name one column 'timestamp'"
    )


def _parse_time(text: str, line: int) -> float:
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise CsvInputError(
            f"line {line}: cannot parse timestamp {text!r} (use ISO 8601 or epoch seconds)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _parse_value(text: str) -> float | None:
    """A float, NaN for a missing cell, None if not a number."""
    s = text.strip()
    if s.lower() in _MISSING:
        return math.nan
    try:
        return float(s)
    except ValueError:
        return None


def read_table(path: Path) -> Table:
    """Parse and validate an input file (raises CsvInputError)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CsvInputError(f"cannot read {path}: {exc}") from None
    if not text.strip():
        raise CsvInputError(f"{path} is empty: expected a header and at least one row")
    rows = list(csv.reader(io.StringIO(text), delimiter=_sniff(text[:4096])))
    rows = [r for r in rows if any(c.strip() for c in r)]
    header, body = rows[0], rows[1:]
    if not body:
        raise CsvInputError(f"{path} has a header but no data rows")
    t_col = _time_column(header)
    kinds = _column_kinds(header, body, t_col)
    if not kinds:
        raise CsvInputError(f"no numeric column besides {header[t_col]!r} in {path}")
    return _collect(header, body, t_col, kinds)


def _column_kinds(header: Sequence[str], body: Sequence[Sequence[str]], t_col: int) -> list[int]:
    numeric = []
    for j in range(len(header)):
        if j == t_col:
            continue
        first = next((r[j] for r in body if j < len(r) and r[j].strip()), "")
        value = _parse_value(first)
        if value is not None and first.strip().lower() not in _MISSING:
            numeric.append(j)
    return numeric


def _collect(
    header: Sequence[str], body: Sequence[Sequence[str]], t_col: int, kinds: list[int]
) -> Table:
    names = [header[j].strip() for j in kinds]
    metrics: dict[str, list[float]] = {n: [] for n in names}
    stamps: list[str] = []
    times: list[float] = []
    for k, row in enumerate(body):
        line = k + 2
        if len(row) != len(header):
            raise CsvInputError(f"line {line}: {len(row)} fields, header has {len(header)}")
        t = _parse_time(row[t_col], line)
        stamps.append(row[t_col].strip())
        times.append(t)
        for name, j in zip(names, kinds, strict=True):
            value = _parse_value(row[j])
            if value is None:
                raise CsvInputError(f"line {line}: column {name!r} is not a number: {row[j]!r}")
            metrics[name].append(value)
    ignored = [h for j, h in enumerate(header) if j != t_col and j not in kinds]
    return Table(stamps, times, metrics, ignored)


def score_table(table: Table, config: MonitorConfig | None = None) -> list[Assessment]:
    """Run one StreamMonitor over the table's rows in order (what the cloud does)."""
    from cloud.detect import StreamMonitor

    names = list(table.metrics)
    monitor = StreamMonitor(names, config)
    columns = [table.metrics[n] for n in names]
    out = []
    for i, ts in enumerate(table.times_s):
        out.append(monitor.update(ts, {n: col[i] for n, col in zip(names, columns, strict=True)}))
    return out


def run_detect(
    input_path: Path,
    output_path: Path | None,
    stdout: TextIO,
    *,
    stderr: TextIO | None = None,
    config: MonitorConfig | None = None,
) -> int:
    """The ``aftercare detect`` command: 0 on success, 2 on bad input."""
    from cloud.detect import InvalidSample

    err = stderr if stderr is not None else sys.stderr
    try:
        table = read_table(input_path)
        results = score_table(table, config)
    except (CsvInputError, InvalidSample) as exc:
        print(f"aftercare detect: {exc}", file=err)
        return 2
    if table.ignored:
        print(f"aftercare detect: ignored non-numeric columns {table.ignored}", file=err)
    if output_path is None:
        _write(stdout, table, results)
        return 0
    try:
        with output_path.open("w", newline="", encoding="utf-8") as fh:
            _write(fh, table, results)
    except OSError as exc:
        print(f"aftercare detect: cannot write {output_path}: {exc}", file=err)
        return 2
    return 0


def _write(fh: TextIO, table: Table, results: Sequence[Assessment]) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(["timestamp", "anomaly_score", "is_anomaly"])
    for stamp, a in zip(table.timestamps, results, strict=True):
        writer.writerow([stamp, f"{a.score:.6f}", int(a.is_anomaly)])
