"""The scoring worker: each device's new samples, in order, through its diagnoser and
the incident tracker; decisions written to the incident table.

Ingest hands over freshly stored samples (never redeliveries) and returns at once; one
scoring thread owns all per-device state, so a device's stream is scored in one place,
in seq order. Samples older than the last one scored for their device (a gap filled late
by a resend) are counted and not scored: streaming detectors only move forward.

Bounded: the hand-over queue holds ``queue_max`` batches (ingest waits beyond that), and
a device's detector state is dropped once it has sent nothing for ``idle_s`` of clock
time (it re-learns if the device comes back). A device whose samples make its diagnosis
fail is counted and logged; the other devices of the batch are scored.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cloud.db.checkpoints import Checkpoint, CheckpointStore
from cloud.db.incidents import IncidentStore
from cloud.db.records import LinkChange, StoredBatch, StoredSample
from cloud.db.telemetry import TelemetryStore
from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.narrative import narrate
from cloud.diagnosis.profiles import profile_for
from cloud.incidents.tracker import (
    Decision,
    Finding,
    IncidentOpened,
    IncidentTracker,
    TrackerConfig,
    signatures_seen,
)
from cloud.incidents.tuning import Tuning, apply_tunings
from cloud.learning import FleetModel
from cloud.scoring import checkpoint
from device_agent.clock import Clock, SystemClock

log = logging.getLogger("aftercare.scoring")

TUNING_POLL_S = 1.0


class SampleObserver(Protocol):
    """Who wants a device's scored samples with the signatures found in them (self-healing
    judges a fix by them). Asked per device first, so the common case costs nothing."""

    def watching(self, device_id: str) -> bool: ...

    def observe(
        self,
        device_id: str,
        observations: Sequence[tuple[float, Mapping[str, float], frozenset[str]]],
    ) -> None: ...


@dataclass
class ScoringStats:
    scored: int = 0
    late: int = 0
    opened: int = 0
    resolved: int = 0
    errors: int = 0
    evicted: int = 0
    checkpoints_saved: int = 0
    checkpoints_restored: int = 0
    checkpoints_discarded: int = 0


class ScoringWorker:
    """``submit`` from ingest; ``start``/``stop`` around the service's life."""

    def __init__(
        self,
        store: TelemetryStore,
        incident_store: IncidentStore,
        fleet_models: Callable[[str], FleetModel | None] = lambda _model: None,
        tracker_config: TrackerConfig | None = None,
        *,
        clock: Clock | None = None,
        queue_max: int = 10_000,
        idle_s: float = 7 * 86_400.0,
        checkpoints: CheckpointStore | None = None,
        checkpoint_interval_s: float = 300.0,
        observers: Sequence[SampleObserver] = (),
    ) -> None:
        self.store = store
        self.incident_store = incident_store
        self.fleet_models = fleet_models
        self.tracker = IncidentTracker(tracker_config)
        self.stats = ScoringStats()
        self.clock = clock or SystemClock()
        self.idle_s = idle_s
        self._diagnosers: dict[str, DeviceDiagnoser] = {}
        self._models: dict[str, str | None] = {}
        self._last_ts: dict[str, float] = {}
        self._last_active: dict[str, float] = {}
        self._next_eviction = 0.0
        self._tunings: dict[str, dict[str, list[Tuning]]] = {}
        self._last_tuning_id = 0
        self._next_tuning_poll = 0.0
        self.observers = list(observers)
        self.checkpoints = checkpoints
        self.checkpoint_interval_s = checkpoint_interval_s
        self._dirty: set[str] = set()
        self._next_checkpoint = time.monotonic() + checkpoint_interval_s
        self._queue: queue.Queue[StoredBatch | None] = queue.Queue(queue_max)
        self._unscored = 0
        self._count_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="scoring")

    def start(self) -> None:
        for device_id, signature in self.incident_store.active():
            self.tracker.restore_open(device_id, signature)
        self._thread.start()

    def stop(self) -> None:
        """Score what is queued, checkpoint every device scored since the last save,
        then stop."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join()
        self.save_checkpoints()

    @property
    def tracked_devices(self) -> frozenset[str]:
        """Devices whose detector state is held in memory."""
        return frozenset(self._diagnosers)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, stored: StoredBatch) -> None:
        """Ingest listener: queue a stored batch for scoring; waits while the queue is
        full, which slows ingest down instead of growing memory."""
        with self._count_lock:
            self._unscored += 1
        self._queue.put(stored)

    @property
    def backlog(self) -> int:
        """Stored batches not yet scored (queued or being scored): at 0, every incident
        the samples stored so far will open is open."""
        with self._count_lock:
            return self._unscored

    def _run(self) -> None:
        while True:
            stored = self._queue.get()
            try:
                if stored is None:
                    return
                self.note_links(stored.link_changes)
                for report in stored.firmware:
                    self._diagnoser(report.device_id).observe_firmware(report.firmware, report.at)
                self.score(stored.new_samples)
                self.evict_idle()
                if time.monotonic() >= self._next_checkpoint:
                    self.save_checkpoints()
            except Exception:
                self.stats.errors += 1
                log.exception("scoring a batch failed")
            finally:
                if stored is not None:
                    with self._count_lock:
                        self._unscored -= 1
                self._queue.task_done()

    def note_links(self, changes: list[LinkChange]) -> None:
        for change in changes:
            self._diagnoser(change.device_id).observe_link(change.at, change.online)

    def score(self, samples: list[StoredSample]) -> list[Decision]:
        """Score samples (any devices, each device's in seq order) and record decisions."""
        self._refresh_tunings()
        decisions: list[tuple[Decision, str | None]] = []
        ordered = sorted(samples, key=lambda s: (s.device_id, s.seq))
        for device_id, group in itertools.groupby(ordered, key=lambda s: s.device_id):
            try:
                decisions += self._score_device(device_id, list(group))
            except Exception:
                self.stats.errors += 1
                log.exception("device=%s scoring failed; its state is reset", device_id)
                self._forget(device_id)
        if decisions:
            self.incident_store.record(decisions)
            opened = sum(isinstance(d, IncidentOpened) for d, _ in decisions)
            self.stats.opened += opened
            self.stats.resolved += len(decisions) - opened
        return [d for d, _ in decisions]

    def _score_device(
        self, device_id: str, group: list[StoredSample]
    ) -> list[tuple[Decision, str | None]]:
        self._last_active[device_id] = self.clock.now()
        self._dirty.add(device_id)
        runs = []
        last_ts = self._last_ts.get(device_id, float("-inf"))
        for sample in group:
            if sample.ts < last_ts:
                self.stats.late += 1
                continue
            last_ts = sample.ts
            runs.append(sample)
        if not runs:
            return []
        self._last_ts[device_id] = last_ts
        diagnoser = self._diagnoser(device_id)
        diagnoser.hold(self.tracker.suspected(device_id))
        found = diagnoser.observe_many([(s.ts, s.metrics) for s in runs])
        model = self._models[device_id]
        decisions: list[tuple[Decision, str | None]] = []
        tunings = self._tunings.get(device_id, {})
        for sample, findings in zip(runs, found, strict=True):
            if tunings:
                findings = apply_tunings(findings, tunings)
            for decision in self.tracker.observe(device_id, sample.ts, findings):
                if isinstance(decision, IncidentOpened):
                    decision = _narrated(decision)
                decisions.append((decision, model))
                log.info(
                    "device=%s incident %s signature=%s",
                    device_id,
                    type(decision).__name__,
                    decision.signature,
                )
        self.stats.scored += len(runs)
        self._tell_observers(device_id, runs, found)
        return decisions

    def _tell_observers(
        self, device_id: str, runs: list[StoredSample], found: list[dict[str, Finding]]
    ) -> None:
        watching = [o for o in self.observers if o.watching(device_id)]
        if not watching:
            return
        bar = self.tracker.config.open_threshold
        observations = [
            (s.ts, s.metrics, signatures_seen(findings, bar))
            for s, findings in zip(runs, found, strict=True)
        ]
        for observer in watching:
            observer.observe(device_id, observations)

    def _refresh_tunings(self) -> None:
        """Pick up what service verdicts taught (at most once a second): the API writes
        tunings to the database, and this worker owns the state they apply to."""
        now = time.monotonic()
        if now < self._next_tuning_poll:
            return
        self._next_tuning_poll = now + TUNING_POLL_S
        for tuning_id, tuning in self.incident_store.tunings_after(self._last_tuning_id):
            by_signature = self._tunings.setdefault(tuning.device_id, {})
            by_signature.setdefault(tuning.signature, []).append(tuning)
            self._last_tuning_id = tuning_id

    def evict_idle(self) -> None:
        """Drop the state of devices silent for ``idle_s`` (checked at most every
        tenth of that): a fleet's churn must not grow memory forever."""
        now = self.clock.now()
        if now < self._next_eviction:
            return
        self._next_eviction = now + self.idle_s / 10
        idle = [d for d, t in self._last_active.items() if now - t > self.idle_s]
        self.save_checkpoints(idle)  # a device that comes back resumes where it was
        for device_id in idle:
            self._forget(device_id)
            self.stats.evicted += 1

    def _forget(self, device_id: str) -> None:
        """Drop a device's detector state; its open incidents stay tracked."""
        self._diagnosers.pop(device_id, None)
        self._models.pop(device_id, None)
        self._last_ts.pop(device_id, None)
        self._last_active.pop(device_id, None)
        self._dirty.discard(device_id)
        self.tracker.forget_quiet(device_id)

    def _fleet_model(self, model: str | None) -> FleetModel | None:
        return self.fleet_models(model) if model else None

    def _diagnoser(self, device_id: str) -> DeviceDiagnoser:
        """The device's diagnoser; rebuilt once if its model becomes known after its first
        samples arrived (a status message that came late)."""
        diagnoser = self._diagnosers.get(device_id)
        if diagnoser is None or self._models[device_id] is None:
            device = self.store.get_device(device_id)
            model = device.model if device else None
            if diagnoser is None or model is not None:
                restored = self._restore(device_id, model) if diagnoser is None else None
                diagnoser = restored or DeviceDiagnoser(
                    profile_for(model), functools.partial(self._fleet_model, model)
                )
                self._diagnosers[device_id] = diagnoser
                self._models[device_id] = model
                self._last_active.setdefault(device_id, self.clock.now())
        return diagnoser

    def save_checkpoints(self, device_ids: Iterable[str] | None = None) -> None:
        """Checkpoint the given devices (default: all scored since the last save) in one
        transaction. Called from the scoring thread, or after it has stopped."""
        self._next_checkpoint = time.monotonic() + self.checkpoint_interval_s
        if self.checkpoints is None:
            return
        chosen = set(self._dirty if device_ids is None else device_ids) & set(self._diagnosers)
        saved = []
        for device_id in sorted(chosen):
            state = checkpoint.DeviceState(
                self._diagnosers[device_id],
                self.tracker.states_of(device_id),
                self._last_ts.get(device_id),
            )
            try:
                blob = checkpoint.encode(state)
            except checkpoint.CheckpointError:
                log.exception("device=%s state cannot be checkpointed", device_id)
                continue
            saved.append(Checkpoint(device_id, checkpoint.VERSION, self.clock.now(), blob))
        self.checkpoints.save_many(saved)
        self._dirty -= chosen
        self.stats.checkpoints_saved += len(saved)

    def _restore(self, device_id: str, model: str | None) -> DeviceDiagnoser | None:
        """The device's checkpointed state, if there is one this version can trust."""
        stored = self.checkpoints.load(device_id) if self.checkpoints is not None else None
        if stored is None:
            return None
        wire = {
            "profile": profile_for(model),
            "fleet_model": functools.partial(self._fleet_model, model),
        }
        try:
            if stored.version != checkpoint.VERSION:
                raise checkpoint.CheckpointError(f"version {stored.version}")
            state = checkpoint.decode(stored.state, wire)
        except checkpoint.CheckpointError as exc:
            self.stats.checkpoints_discarded += 1
            log.warning("device=%s checkpoint discarded, learning again: %s", device_id, exc)
            return None
        self.tracker.restore_states(device_id, state.tracker)
        if state.last_ts is not None:
            self._last_ts[device_id] = state.last_ts
        self.stats.checkpoints_restored += 1
        return state.diagnoser


def _narrated(opened: IncidentOpened) -> IncidentOpened:
    """The incident with the explanation a service engineer reads (sentence, peak and
    normal range with units, duration, likely cause and next step)."""
    explanation = narrate(
        opened.signature,
        opened.explanation,
        since=opened.evidence_since,
        until=opened.opened_at,
        occurrences=opened.occurrences,
    )
    return dataclasses.replace(opened, explanation=explanation)
