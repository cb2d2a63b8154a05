"""Incident hysteresis: open only on sustained evidence, resolve only on sustained
recovery, one open incident per device and signature."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cloud.incidents.tracker import (
    Finding,
    IncidentOpened,
    IncidentResolved,
    IncidentTracker,
    TrackerConfig,
)

SIG = "overheat/compressor"


def _run(tracker: IncidentTracker, scores: list[float]) -> list[tuple[int, str]]:
    events = []
    for i, score in enumerate(scores):
        findings = {SIG: Finding(SIG, score, {"metric": "t"})} if score > 0 else {}
        for decision in tracker.observe("d1", float(i), findings):
            events.append((i, type(decision).__name__))
    return events


def test_opens_after_sustained_evidence_and_resolves_after_sustained_recovery() -> None:
    tracker = IncidentTracker(TrackerConfig(open_after=3, close_after=4))
    scores = [0.9, 0.9, 0.0, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert _run(tracker, scores) == [(5, "IncidentOpened"), (10, "IncidentResolved")]


def test_the_opened_incident_carries_its_evidence_start() -> None:
    tracker = IncidentTracker(TrackerConfig(open_after=2))
    tracker.observe("d1", 10.0, {SIG: Finding(SIG, 0.8, {"z": 7})})
    (opened,) = tracker.observe("d1", 20.0, {SIG: Finding(SIG, 0.9, {"z": 9})})
    assert isinstance(opened, IncidentOpened)
    assert (opened.evidence_since, opened.opened_at, opened.explanation) == (10.0, 20.0, {"z": 9})


def test_a_score_hovering_between_thresholds_neither_opens_nor_closes() -> None:
    tracker = IncidentTracker(TrackerConfig(open_after=2, close_after=2))
    assert _run(tracker, [0.9, 0.9] + [0.3] * 50) == [(1, "IncidentOpened")]


def test_a_restored_incident_can_resolve_after_a_restart() -> None:
    tracker = IncidentTracker(TrackerConfig(close_after=2))
    tracker.restore_open("d1", SIG)
    decisions = tracker.observe("d1", 1.0, {}) + tracker.observe("d1", 2.0, {})
    assert [type(d) for d in decisions] == [IncidentResolved]


@given(st.lists(st.floats(0, 1), max_size=200))
def test_opens_and_resolutions_alternate(scores: list[float]) -> None:
    events = [name for _, name in _run(IncidentTracker(), scores)]
    assert all(
        name == ("IncidentOpened" if i % 2 == 0 else "IncidentResolved")
        for i, name in enumerate(events)
    )


def test_learned_only_findings_on_a_device_with_a_named_incident_are_symptoms() -> None:
    tracker = IncidentTracker(TrackerConfig(open_after=1), TrackerConfig(open_after=1))
    leak = Finding("memory-leak/firmware", 0.9)
    cpu = Finding("anomaly/cpu_load_pct", 0.9)
    opened = tracker.observe("d1", 1.0, {leak.signature: leak, cpu.signature: cpu})
    assert [d.signature for d in opened] == ["memory-leak/firmware"]
    elsewhere = tracker.observe("d2", 1.0, {cpu.signature: cpu})
    assert [d.signature for d in elsewhere] == ["anomaly/cpu_load_pct"]


def test_a_faulty_sensor_left_open_hides_only_findings_about_its_own_reading() -> None:
    """A stuck supply sensor waiting for a technician stays open for days. A drift of
    the outdoor sensor meanwhile is a second fault, not its symptom; a learned finding
    about the supply reading itself still is."""
    tracker = IncidentTracker(TrackerConfig(open_after=1), TrackerConfig(open_after=5))
    stuck = Finding("sensor-stuck/supply_temp_c", 1.0, {"metric": "supply_temp_c"})
    drift = Finding("sensor-drift/outdoor_temp_c", 0.9, {"metric": "outdoor_temp_c"}, learned=True)
    same = Finding("anomaly/supply_temp_c", 0.9, {"metric": "supply_temp_c"}, learned=True)
    opened = []
    for i in range(20):
        findings = {f.signature: f for f in (stuck, drift, same)}
        opened += [d.signature for d in tracker.observe("d1", float(i), findings)]
    assert opened == ["sensor-stuck/supply_temp_c", "sensor-drift/outdoor_temp_c"]


def test_a_named_fault_vouched_for_only_by_a_learned_detector_must_persist_as_long() -> None:
    """The fleet model finding a compressor hotter than it expects names an overheat, but
    its bar is what its history held (a warm spell it never saw makes every cool-down look
    hot): that must last as long as any learned-only evidence. A limit opens at once."""
    tracker = IncidentTracker(TrackerConfig(open_after=3), TrackerConfig(open_after=15))
    learned = Finding(SIG, 0.9, {"detector": "fleet"}, learned=True)
    limit = Finding(SIG, 0.9, {"detector": "limit"})

    def opened_at(device: str, finding: Finding) -> list[int]:
        return [i for i in range(20) if tracker.observe(device, float(i), {SIG: finding})]

    assert opened_at("d1", learned) == [14]
    assert opened_at("d2", limit) == [2]


def test_a_symptom_stays_one_after_its_named_incident_resolves_while_it_lasts() -> None:
    """A leaking heap loads the CPU; when the leak's own evidence pauses (its trend
    restarts after a reboot) the CPU evidence that began under it opens nothing. A new
    run of CPU evidence, with no named incident open, is judged on its own."""
    tracker = IncidentTracker(
        TrackerConfig(open_after=1, close_after=2), TrackerConfig(open_after=5, close_after=2)
    )
    leak = Finding("memory-leak/firmware", 0.9)
    cpu = Finding("sensor-drift/cpu_load_pct", 0.9, learned=True)
    decisions = tracker.observe("d1", 0.0, {leak.signature: leak, cpu.signature: cpu})
    for i in range(1, 30):
        decisions += tracker.observe("d1", float(i), {cpu.signature: cpu})
    assert [(type(d), d.signature) for d in decisions] == [
        (IncidentOpened, "memory-leak/firmware"),
        (IncidentResolved, "memory-leak/firmware"),
    ]
    tracker.observe("d1", 30.0, {})  # the CPU calms down for a sample
    later = [
        d for i in range(31, 40) for d in tracker.observe("d1", float(i), {cpu.signature: cpu})
    ]
    assert [(type(d), d.signature) for d in later] == [
        (IncidentOpened, "sensor-drift/cpu_load_pct")
    ]


def test_evidence_that_already_spans_several_samples_opens_at_once() -> None:
    """A run of repeats is its own persistence: the tracker counts the samples it spans."""
    tracker = IncidentTracker()
    stuck = Finding("sensor-stuck/t", 0.5, {"metric": "t"}, persisted=3)
    decisions = tracker.observe("d1", 0.0, {stuck.signature: stuck})
    assert [type(d) for d in decisions] == [IncidentOpened]
    single = Finding("spike/t", 0.9, {"metric": "t"})
    assert tracker.observe("d1", 1.0, {single.signature: single}) == []


def test_a_device_s_samples_touch_only_its_own_signatures() -> None:
    """The tracker keeps state per device: a fleet's quiet devices hold nothing, and a
    symptom on one device is not suppressed by an incident open on another."""
    tracker = IncidentTracker()
    hot = Finding("overheat/compressor", 1.0, {})
    drift = Finding("sensor-drift/cpu_load_pct", 1.0, {})
    for i in range(3):
        tracker.observe("hp-1", float(i), {hot.signature: hot})
    assert tracker.states_of("hp-1")["overheat/compressor"].open
    opened = []
    for i in range(20):
        opened += tracker.observe("hp-2", float(i), {drift.signature: drift})
    assert [d.signature for d in opened] == ["sensor-drift/cpu_load_pct"]
    for i in range(20):
        tracker.observe("hp-3", float(i), {})
    assert tracker.states_of("hp-3") == {}
    tracker.forget_quiet("hp-2")
    assert set(tracker.states_of("hp-2")) == {"sensor-drift/cpu_load_pct"}, "open stays"
