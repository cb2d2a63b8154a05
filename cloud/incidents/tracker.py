"""Turning per-sample findings into incidents, with hysteresis (pure, no I/O).

An incident opens only when a signature's score stays at or above ``open_threshold`` for
``open_after`` consecutive samples (counting those a finding says its evidence already
spans, :attr:`Finding.persisted`), and resolves only when it stays below
``close_threshold`` for ``close_after`` samples, so a noisy score near the threshold does
not flap. There is at most one open incident per device and signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One signature's evidence at one sample: a score in [0, 1] and why.

    ``persisted`` is how many consecutive samples, this one included, the evidence
    already spans: a sensor that repeated one exact value twice has been frozen for three
    samples, and the detector scored that whole run against chance. The tracker counts
    those samples towards ``open_after`` instead of waiting for as many again; a
    per-sample finding (a baseline deviation) spans one.
    """

    signature: str
    score: float
    explanation: dict[str, object] = field(default_factory=dict)
    persisted: int = 1
    fresh: bool = True
    """Whether this sample brought evidence of its own. A finding over a window (drops in
    the last hour, spikes in the last 30 samples) goes on being reported from older
    evidence: it keeps an incident open, but it says nothing of whether a fix applied
    since then worked."""
    learned: bool = False
    """Whether only a learned detector (a baseline, the fleet model) vouches for it: its
    bar is what a short history held, not the fault's own shape or a specified limit,
    so it must persist as long as the signatures only such detectors name
    (:data:`SLOW_EVIDENCE`) before it opens an incident, whatever the name."""


def signatures_seen(findings: Mapping[str, Finding], bar: float) -> frozenset[str]:
    """The signatures this sample showed on its own evidence, at ``bar`` or above: what
    a fix's verification may hold against the device (see :attr:`Finding.fresh`). The
    bar is the open threshold: the close threshold would also hold a repaired part that
    is still settling (a compressor cooling back into its band) against its fix."""
    return frozenset(sig for sig, f in findings.items() if f.fresh and f.score >= bar)


@dataclass(frozen=True)
class TrackerConfig:
    open_threshold: float = 0.5
    close_threshold: float = 0.2
    open_after: int = 3
    close_after: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.close_threshold <= self.open_threshold <= 1:
            raise ValueError("need 0 <= close_threshold <= open_threshold <= 1")
        if self.open_after < 1 or self.close_after < 1:
            raise ValueError("open_after and close_after must be at least 1")


SLOW_EVIDENCE = ("anomaly/", "sensor-drift/")
"""Signatures named only by a learned detector, not by a limit or a fault's shape: they
must persist longer before they become an incident."""
SENSOR_FAULTS = ("sensor-stuck/", "spike/")
"""Named signatures of a faulty sensor: ``kind/<the metric it falsifies>``."""


def _may_move(signature: str, metric: object) -> bool:
    """Whether the fault ``signature`` names may be what moves ``metric`` (any metric,
    unless it is a faulty sensor: then only its own)."""
    if not signature.startswith(SENSOR_FAULTS) or not isinstance(metric, str):
        return True
    return signature.partition("/")[2] == metric


@dataclass(frozen=True)
class IncidentOpened:
    """``explanation`` is that of the most deviant finding while the evidence built up
    (the peak, not the last reading); ``occurrences`` counts the samples that carried it."""

    device_id: str
    signature: str
    opened_at: float
    evidence_since: float
    score: float
    explanation: dict[str, object]
    occurrences: int = 1


@dataclass(frozen=True)
class IncidentResolved:
    device_id: str
    signature: str
    resolved_at: float
    peak_score: float


Decision = IncidentOpened | IncidentResolved


@dataclass
class TrackerState:
    """One (device, signature)'s hysteresis: kept per device in checkpoints."""

    above: int = 0
    below: int = 0
    first_above_ts: float = 0.0
    open: bool = False
    peak: float = 0.0
    worst: Finding | None = None
    worst_deviation: float = -1.0
    symptom: bool = False
    """Whether this run of evidence began while a named incident of the device that may
    cause it was open (see :meth:`IncidentTracker._symptom`):
    it stays that fault's symptom while it lasts, even if the named evidence pauses (a
    leak's trend restarts its window while the exhausted heap still loads the CPU)."""


class IncidentTracker:
    """Feed it each device's findings in sample order; it answers with decisions."""

    def __init__(
        self, config: TrackerConfig | None = None, slow_config: TrackerConfig | None = None
    ) -> None:
        self.config = config or TrackerConfig()
        self.slow_config = slow_config or TrackerConfig(open_after=15, close_after=15)
        self._states: dict[str, dict[str, TrackerState]] = {}
        """Per device, its signatures in progress: a sample touches its own device only."""

    def _symptom(self, device_id: str, signature: str, finding: Finding | None) -> bool:
        """A learned-only finding on a device with a named incident open is most likely
        a consequence of it (a leak also loads the CPU): it opens nothing new. Except
        where that incident is a faulty sensor and the finding is about another metric:
        a sensor falsifies its own reading and nothing else, so a stuck supply sensor
        waiting for a technician must not hide a drifting outdoor sensor all the while."""
        if not signature.startswith(SLOW_EVIDENCE):
            return False
        metric = None if finding is None else finding.explanation.get("metric")
        return any(
            st.open and not s.startswith(SLOW_EVIDENCE) and _may_move(s, metric)
            for s, st in self._states.get(device_id, {}).items()
        )

    def restore_open(self, device_id: str, signature: str) -> None:
        """Carry on tracking an incident that was open before a restart, so it can still
        resolve and is not opened twice."""
        self._states.setdefault(device_id, {})[signature] = TrackerState(open=True)

    def suspected(self, device_id: str) -> frozenset[str]:
        """The device's signatures with an open incident or evidence building up towards
        one: what its detectors must not learn as normal while the tracker decides (a
        learned baseline follows a step within about as many samples as a learned-only
        incident needs to open)."""
        return frozenset(
            s for s, st in self._states.get(device_id, {}).items() if st.open or st.above > 0
        )

    def states_of(self, device_id: str) -> dict[str, TrackerState]:
        """A device's signatures in progress (for a checkpoint)."""
        return dict(self._states.get(device_id, {}))

    def restore_states(self, device_id: str, states: Mapping[str, TrackerState]) -> None:
        """Carry on from a checkpoint; what is already tracked (an incident restored as
        open from the database) wins."""
        for signature, state in states.items():
            self._states.setdefault(device_id, {}).setdefault(signature, state)

    def forget_quiet(self, device_id: str) -> None:
        """Drop a device's signatures that are building up or calming down; open
        incidents stay, so they can still resolve."""
        states = self._states.get(device_id, {})
        for signature in [s for s, st in states.items() if not st.open]:
            del states[signature]
        if not states:
            self._states.pop(device_id, None)

    def observe(self, device_id: str, ts: float, findings: Mapping[str, Finding]) -> list[Decision]:
        """Account one sample; signatures absent from ``findings`` score 0."""
        states = self._states.get(device_id)
        if not findings and states is None:
            return []  # the usual sample: a quiet device with nothing in progress
        decisions: list[Decision] = []
        signatures = set(findings) | set(states or ())
        # named signatures first, so their symptoms in the same sample are recognised
        for signature in sorted(signatures, key=lambda s: (s.startswith(SLOW_EVIDENCE), s)):
            finding = findings.get(signature)
            score = finding.score if finding else 0.0
            decision = self._step(device_id, signature, ts, score, finding)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _step(
        self, device_id: str, signature: str, ts: float, score: float, finding: Finding | None
    ) -> Decision | None:
        learned = finding is not None and finding.learned
        slow = learned or signature.startswith(SLOW_EVIDENCE)
        config = self.slow_config if slow else self.config
        state = self._states.setdefault(device_id, {}).setdefault(signature, TrackerState())
        if score >= config.open_threshold:
            if state.above == 0:
                state.first_above_ts = ts
                state.worst, state.worst_deviation = None, -1.0
                state.symptom = self._symptom(device_id, signature, finding)
            persisted = finding.persisted if finding is not None else 1
            state.above = max(state.above + 1, persisted)
            state.below = 0
            if finding is not None and (deviation := _deviation(finding)) > state.worst_deviation:
                state.worst, state.worst_deviation = finding, deviation
        elif score < config.close_threshold:
            state.below += 1
            state.above = 0
        else:
            state.above = 0
            state.below = 0
        state.peak = max(state.peak, score) if state.open else score
        if (
            not state.open
            and state.above >= config.open_after
            and finding is not None
            and not state.symptom
            and not self._symptom(device_id, signature, finding)
        ):
            state.open = True
            state.peak = score
            evidence = state.worst or finding
            return IncidentOpened(
                device_id,
                signature,
                ts,
                state.first_above_ts,
                score,
                dict(evidence.explanation),
                occurrences=state.above,
            )
        if state.open and state.below >= config.close_after:
            peak = state.peak
            self._drop(device_id, signature)
            return IncidentResolved(device_id, signature, ts, peak)
        if not state.open and state.above == 0 and state.below >= config.close_after:
            self._drop(device_id, signature)  # forget quiet signatures
        return None

    def _drop(self, device_id: str, signature: str) -> None:
        states = self._states[device_id]
        del states[signature]
        if not states:  # a quiet device holds nothing
            del self._states[device_id]


def _deviation(finding: Finding) -> float:
    """How far a finding's value lies from normal: outside its normal band, else from its
    baseline, else its score (findings without a value, such as a flapping link)."""
    explanation = finding.explanation
    value = explanation.get("value")
    low, high = explanation.get("normal_low"), explanation.get("normal_high")
    if isinstance(value, float | int):
        if isinstance(low, float | int) and isinstance(high, float | int):
            return max(float(low) - value, value - float(high), 0.0) + finding.score
        baseline = explanation.get("baseline")
        if isinstance(baseline, float | int):
            return abs(value - baseline) + finding.score
    return finding.score
