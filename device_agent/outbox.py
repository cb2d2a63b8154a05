"""A bounded, durable outbox of what waits for the cloud's acknowledgement: telemetry
samples, and reports (command results, events, diagnostic bundles).

Samples are numbered here (``seq`` from 0, never reused, surviving restarts) and stay in the
outbox until the cloud says it has stored them, so a broker crash, a cloud restart or a
long offline spell loses nothing the outbox could hold. When it is full the oldest samples
are dropped and counted; the count travels with the next batch. A reading is checked
against the wire contract when it is appended, so one bad reading is refused there, with
its reason, and can never block the queue behind it. Reports are kept by (kind, id) until
acknowledged, at most ``max_reports`` of them (oldest dropped first, counted).

Backed by SQLite: a file on a real device, ``:memory:`` for simulated fleets. Not
thread-safe: one agent, one event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal

from pydantic import ValidationError

from device_agent.contract import ContractError, Sample, describe

ReportKind = Literal["result", "event", "diagnostics"]


class InvalidReading(ContractError):
    """A reading the wire contract refuses (a NaN, a clock before 2000, a bad metric
    name); ``reason`` says which. It is not stored."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    metrics TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    added INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class Outbox:
    """Durable FIFO of samples keyed by seq."""

    def __init__(
        self, path: str | Path = ":memory:", max_samples: int = 100_000, max_reports: int = 1000
    ) -> None:
        if max_samples < 1 or max_reports < 1:
            raise ValueError("max_samples and max_reports must be at least 1")
        self.max_samples = max_samples
        self.max_reports = max_reports
        self.path = str(path)
        """The SQLite file (or ``:memory:``): the agent's other durable state sits beside."""
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def counter(self, key: str) -> int:
        """A durable counter of the agent's (0 until set), e.g. self-check runs so far."""
        return self._meta(key)

    def set_counter(self, key: str, value: int) -> None:
        self._set_meta(key, value)

    @property
    def dropped_total(self) -> int:
        """Samples discarded because the outbox was full, over the outbox's whole life."""
        return self._meta("dropped_total")

    def __len__(self) -> int:
        return self._count

    def append(self, ts: float, metrics: Mapping[str, float]) -> int:
        """Store a new sample and return its seq; drops the oldest sample when full.
        Raises InvalidReading (and stores nothing) for a reading the contract refuses."""
        seq = self._meta("next_seq")
        try:
            Sample(seq=seq, ts=ts, metrics=dict(metrics))
        except ValidationError as exc:
            raise InvalidReading(describe(exc)) from None
        self._db.execute("BEGIN")
        try:
            self._db.execute(
                "INSERT INTO samples(seq, ts, metrics) VALUES (?, ?, ?)",
                (seq, ts, json.dumps(dict(metrics))),
            )
            self._set_meta("next_seq", seq + 1)
            self._count += 1
            overflow = self._count - self.max_samples
            if overflow > 0:
                self._db.execute(
                    "DELETE FROM samples WHERE seq IN "
                    "(SELECT seq FROM samples ORDER BY seq LIMIT ?)",
                    (overflow,),
                )
                self._count -= overflow
                self._set_meta("dropped_total", self.dropped_total + overflow)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return seq

    def thin_oldest(self) -> int:
        """Make room without losing the oldest hours outright: drop every other sample
        of the older half (their resolution halves, their span stays). Counted in
        ``dropped_total``; returns how many were dropped."""
        with_seqs = [row[0] for row in self._db.execute("SELECT seq FROM samples ORDER BY seq")]
        victims = with_seqs[: len(with_seqs) // 2][1::2]
        if not victims:
            return 0
        self._db.execute("BEGIN")
        try:
            self._db.executemany("DELETE FROM samples WHERE seq = ?", [(s,) for s in victims])
            self._count -= len(victims)
            self._set_meta("dropped_total", self.dropped_total + len(victims))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return len(victims)

    def pending(self, after_seq: int = -1, limit: int = 100) -> list[Sample]:
        """The oldest unacknowledged samples with seq > ``after_seq``, in seq order."""
        rows = self._db.execute(
            "SELECT seq, ts, metrics FROM samples WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [Sample(seq=seq, ts=ts, metrics=json.loads(metrics)) for seq, ts, metrics in rows]

    def acknowledge(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Forget samples the cloud has stored; returns how many were removed."""
        removed = 0
        for first, last in ranges:
            cursor = self._db.execute(
                "DELETE FROM samples WHERE seq BETWEEN ? AND ?", (first, last)
            )
            removed += cursor.rowcount
        self._count -= removed
        return removed

    # --- reports: command results and events --------------------------------------

    @property
    def dropped_reports(self) -> int:
        return self._meta("dropped_reports")

    def add_report(self, kind: ReportKind, report_id: str, payload: bytes) -> None:
        """Keep an encoded report until acknowledged; the same (kind, id) is kept once."""
        self._db.execute("BEGIN")
        try:
            added = self._meta("next_report")
            self._db.execute(
                "INSERT OR IGNORE INTO reports(kind, id, added, payload) VALUES (?, ?, ?, ?)",
                (kind, report_id, added, payload),
            )
            self._set_meta("next_report", added + 1)
            count = int(self._db.execute("SELECT COUNT(*) FROM reports").fetchone()[0])
            overflow = count - self.max_reports
            if overflow > 0:
                self._db.execute(
                    "DELETE FROM reports WHERE rowid IN "
                    "(SELECT rowid FROM reports ORDER BY added LIMIT ?)",
                    (overflow,),
                )
                self._set_meta("dropped_reports", self.dropped_reports + overflow)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def pending_reports(self) -> list[tuple[ReportKind, str, bytes]]:
        """Every unacknowledged report, oldest first."""
        rows = self._db.execute("SELECT kind, id, payload FROM reports ORDER BY added").fetchall()
        return [(kind, report_id, bytes(payload)) for kind, report_id, payload in rows]

    def acknowledge_reports(self, kind: ReportKind, report_ids: Iterable[str]) -> int:
        """Forget reports the cloud has stored; returns how many were removed."""
        removed = 0
        for report_id in report_ids:
            cursor = self._db.execute(
                "DELETE FROM reports WHERE kind = ? AND id = ?", (kind, report_id)
            )
            removed += cursor.rowcount
        return removed
