"""The InfluxDB exporter: telemetry, incident changes and fix outcomes, mirrored through
``influxdb-client``'s batching write API without ever slowing ingest down.

Bounded at every step, so an InfluxDB that is down or slow costs points, never ingest:

- ``put`` is a ``put_nowait`` on a bounded queue: when it is full the point is dropped
  and counted, and the caller (the ingest writer, the scorer, self-healing) goes on;
- one export thread takes points from the queue, builds their line protocol
  (:mod:`cloud.export.points`) and hands them, up to ``batch_size`` lines as one record,
  to the client's batching ``WriteApi``, which writes a few records at a time (every
  ``flush_interval_ms`` at the latest) and retries a failed write with exponential
  backoff;
- the client keeps what it was handed in memory until it is written or given up, so the
  thread stops taking from the queue while ``max_in_flight`` points are in the client:
  with InfluxDB down, the queue fills and new points are dropped and counted;
- a batch still failing after its retries is counted as failed (and dropped), and so is
  one InfluxDB refuses outright; nothing raises into the caller.

Counters (``counters()``) are reported on ``/healthz`` and logged once a minute when
they moved; an unreachable InfluxDB shows there and never makes the cloud unhealthy.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import WriteApi, WriteOptions, WriteType
from reactivex.scheduler import EventLoopScheduler

from cloud.db.records import IncidentChange, StoredBatch, StoredSample
from cloud.export.device_models import DeviceModels
from cloud.export.points import PRECISION, fix_line, incident_line, telemetry_line
from cloud.heal.outcome import FixOutcome

log = logging.getLogger("aftercare.export")

__all__ = ["ExportStats", "ExportTuning", "InfluxExporter", "InfluxTarget"]

Exported = StoredSample | IncidentChange | FixOutcome
"""What can be put on the export queue: one point each."""


RECORDS_PER_BATCH = 8
"""Chunks (each up to ``batch_size`` lines, one record) the client joins into one write."""


@dataclass(frozen=True)
class InfluxTarget:
    """Where points go: an InfluxDB v2 write API (or one that speaks it)."""

    url: str
    token: str
    org: str
    bucket: str


@dataclass(frozen=True)
class ExportTuning:
    """Bounds and pacing; the defaults suit a fleet of thousands of devices."""

    queue_max: int = 50_000
    """Points waiting for the export thread; beyond it, new points are dropped."""
    max_in_flight: int = 20_000
    """Points handed to the client and neither written nor given up yet, at most."""
    batch_size: int = 5_000
    flush_interval_ms: int = 1_000
    retry_interval_ms: int = 1_000
    """The first retry's delay; each further one ``exponential_base`` times longer..."""
    exponential_base: int = 2
    max_retries: int = 3
    max_retry_delay_ms: int = 8_000
    """...but at most this long, and all of a batch's retries within ``max_retry_time_ms``."""
    max_retry_time_ms: int = 15_000
    timeout_ms: int = 5_000
    """One HTTP request's timeout."""
    close_wait_ms: int = 5_000
    """How long ``stop`` waits for batches in flight before counting them dropped."""
    log_every_s: float = 60.0


@dataclass
class ExportStats:
    written: int = 0
    """Points InfluxDB accepted."""
    dropped: int = 0
    """Points lost: queue full, their batch failed (``failed``), or left at stop."""
    failed: int = 0
    """Points in batches that failed after their retries, or that InfluxDB refused."""
    retries: int = 0
    """Batch writes retried."""
    errors: int = 0
    """Export steps that failed in our own code (their points are counted dropped)."""


class InfluxExporter:
    """``start()`` and ``stop()`` around the service's life; ``put`` from any thread.

    ``model_of`` answers a device's product model (None while unknown); it is called from
    the export thread only, at most once per device (see :class:`DeviceModels`).
    """

    def __init__(
        self,
        target: InfluxTarget,
        model_of: Callable[[str], str | None],
        tuning: ExportTuning | None = None,
    ) -> None:
        self.target = target
        self.tuning = tuning or ExportTuning()
        self.models = DeviceModels(model_of)
        self.stats = ExportStats()
        self._queue: queue.Queue[Exported] = queue.Queue(self.tuning.queue_max)
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._stopping = threading.Event()
        self._next_log = 0.0
        self._last_said = ExportStats()
        self._thread = threading.Thread(target=self._run, name="influx-export")
        self._client: InfluxDBClient | None = None
        self._write_api: WriteApi | None = None
        self._scheduler: EventLoopScheduler | None = None
        self._options: WriteOptions | None = None
        self._failing = False
        """The latest batch failed or is being retried: InfluxDB looks down."""

    # -- the hot path (any thread) --------------------------------------------------------
    def put(self, item: Exported) -> bool:
        """Queue one point without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1
            return False
        return True

    def on_stored(self, stored: StoredBatch) -> None:
        """Ingest listener: every new sample of the batch, one ``put`` each."""
        for sample in stored.new_samples:
            self.put(sample)

    def on_incident(self, change: IncidentChange) -> None:
        """Incident store listener."""
        self.put(change)

    def on_fix(self, outcome: FixOutcome) -> None:
        """Remediation worker listener."""
        self.put(outcome)

    # -- what /healthz shows --------------------------------------------------------------
    def counters(self) -> Mapping[str, int]:
        """written, dropped, failed, retries and errors so far; queued and in_flight now."""
        with self._lock:
            return {
                "written": self.stats.written,
                "dropped": self.stats.dropped,
                "failed": self.stats.failed,
                "retries": self.stats.retries,
                "errors": self.stats.errors + self.models.errors,
                "queued": self._queue.qsize(),
                "in_flight": self._in_flight,
            }

    # -- life -----------------------------------------------------------------------------
    def start(self) -> None:
        """Open the client (no request is made: an InfluxDB that is down is no error)."""
        tuning = self.tuning
        # One daemon thread writes the batches in order: a batch still retrying when the
        # process exits is lost (and counted at stop), it does not hold the exit up.
        self._scheduler = EventLoopScheduler()
        self._options = options = WriteOptions(
            write_type=WriteType.batching,
            batch_size=RECORDS_PER_BATCH,
            flush_interval=tuning.flush_interval_ms,
            retry_interval=tuning.retry_interval_ms,
            max_retries=tuning.max_retries,
            max_retry_delay=tuning.max_retry_delay_ms,
            max_retry_time=tuning.max_retry_time_ms,
            exponential_base=tuning.exponential_base,
            max_close_wait=tuning.close_wait_ms,
            write_scheduler=self._scheduler,
        )
        self._client = InfluxDBClient(
            url=self.target.url,
            token=self.target.token,
            org=self.target.org,
            timeout=tuning.timeout_ms,
        )
        self._write_api = _WriteApi(
            self._client,
            write_options=options,
            success_callback=self._written,
            error_callback=self._failed,
            retry_callback=self._retried,
        )
        self._thread.start()
        log.info("exporting to %s bucket=%s", self.target.url, self.target.bucket)

    def stop(self) -> None:
        """Hand over what is queued (as far as the in-flight bound allows), wait up to
        ``close_wait_ms`` for it to be written (not at all while InfluxDB is failing:
        its batches would only retry), and count whatever is left as dropped."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        if self._write_api is not None and self._options is not None:
            self._options.max_close_wait = 0 if self._failing else self.tuning.close_wait_ms
            self._write_api.close()
        with self._lock:
            self._closed = True
            self.stats.dropped += self._in_flight
            self._in_flight = 0
        if self._scheduler is not None:
            self._scheduler.dispose()
        if self._client is not None:
            self._client.close()
        self._say(force=True)

    # -- the export thread ----------------------------------------------------------------
    def _run(self) -> None:
        self._next_log = time.monotonic() + self.tuning.log_every_s
        while not (self._stopping.is_set() and self._queue.empty()):
            chunk = self._take()
            if chunk:
                self._hand_over(chunk)
            if time.monotonic() >= self._next_log:
                self._say()

    def _room(self) -> int:
        """Points the client may still be handed; waits (a little) while it has none."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._in_flight < self.tuning.max_in_flight or self._stopping.is_set(),
                timeout=0.2,
            )
            return self.tuning.max_in_flight - self._in_flight

    def _take(self) -> list[Exported]:
        room = self._room()
        if room <= 0:
            if self._stopping.is_set():  # no room left and no more waiting: count the rest
                self._drop_queued()
            return []
        try:
            chunk = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(chunk) < min(room, self.tuning.batch_size):
            try:
                chunk.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return chunk

    def _drop_queued(self) -> None:
        lost = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            lost += 1
        with self._lock:
            self.stats.dropped += lost

    def _hand_over(self, chunk: list[Exported]) -> None:
        """Build the chunk's lines and give them to the client; a step that fails in our
        own code is counted, logged with its traceback, and its points dropped."""
        assert self._write_api is not None
        try:
            lines = [line for item in chunk if (line := self._line(item)) is not None]
            if not lines:
                return
            with self._lock:
                self._in_flight += len(lines)
            # One record for the whole chunk: the client's batching pipeline costs time
            # per record, and that time would be taken from ingest (the GIL).
            self._write_api.write(
                self.target.bucket, self.target.org, "\n".join(lines), write_precision=PRECISION
            )
        except Exception:
            with self._lock:
                self.stats.errors += 1
                self.stats.dropped += len(chunk)
            log.exception("exporting %d points failed", len(chunk))

    def _line(self, item: Exported) -> str | None:
        if isinstance(item, StoredSample):
            return telemetry_line(item, self.models.model_of(item.device_id))
        if isinstance(item, IncidentChange):
            return incident_line(item)
        return fix_line(item)

    def _say(self, *, force: bool = False) -> None:
        """One log line with the counters when they moved since the last one: a warning
        when points were lost meanwhile."""
        self._next_log = time.monotonic() + self.tuning.log_every_s
        with self._lock:
            now = dataclasses.replace(self.stats)
        if now == self._last_said and not force:
            return
        lost = now.dropped > self._last_said.dropped or now.errors > self._last_said.errors
        self._last_said = now
        counts = " ".join(f"{k}={v}" for k, v in self.counters().items())
        log.log(logging.WARNING if lost else logging.INFO, "influx export %s", counts)

    # -- the client's callbacks (its write thread) ----------------------------------------
    def _written(self, _key: tuple[str, str, str], data: Any) -> None:
        self._settled(_points_in(data), failed=False)

    def _failed(self, _key: tuple[str, str, str], data: Any, exc: Exception) -> None:
        points = _points_in(data)
        if self._settled(points, failed=True):
            log.warning("influx export dropped a batch of %d points: %s", points, exc)

    def _retried(self, _key: tuple[str, str, str], _data: Any, exc: Exception) -> None:
        with self._lock:
            self.stats.retries += 1
            self._failing = True

    def _settled(self, points: int, *, failed: bool) -> bool:
        """Count a batch's end; False when it ended after ``stop`` had counted it."""
        with self._lock:
            if self._closed:
                return False
            self._in_flight -= points
            self._failing = failed
            if failed:
                self.stats.failed += points
                self.stats.dropped += points
            else:
                self.stats.written += points
            self._lock.notify_all()
            return True


class _WriteApi(WriteApi):
    """influxdb-client's batching ``WriteApi``, safe to close while a batch is retrying.

    When ``close`` stops waiting (``max_close_wait``) it lets go of its pipeline; a batch
    that finishes its retries afterwards then completes that pipeline and, in the stock
    class, fails on what it let go of (``None.dispose()``) with a traceback in the write
    thread. Here that late completion does nothing: its points were counted at ``stop``.
    """

    def _on_complete(self) -> None:
        if self._disposable is not None:
            super()._on_complete()  # type: ignore[no-untyped-call]


def _points_in(data: Any) -> int:
    """Points in a batch body: one line each, joined by newlines."""
    body = data if isinstance(data, bytes) else str(data).encode()
    return body.count(b"\n") + 1 if body else 0
