"""The remediation loop on its own: a fix is healed only when the telemetry shows it,
wrong fixes lead to the next one and then to escalation, and the fleet learns which fix
works."""

from __future__ import annotations

import random

from cloud.heal.choice import FixRecord
from cloud.heal.engine import (
    AttemptChanged,
    Escalated,
    Healed,
    RemediationEngine,
    SafetyLimits,
    SendFix,
    Step,
)
from cloud.heal.playbook import Fix, Playbook, Playbooks, Verification

T0 = 1_780_000_000.0
SIG = "overheat/connector"
MODEL = "evcharger-ec11"
HOT = {"connector_temp_c": 80.0, "current_a": 0.0}
COOL = {"connector_temp_c": 40.0, "current_a": 0.0}
RULE = Verification.model_validate(
    {"within_s": 600, "hold_s": 120, "bounds": [{"metric": "connector_temp_c", "max": 60}]}
)


def _playbooks(*, idle_only: bool = False, attempts: int = 1) -> Playbooks:
    derate = Fix(action="derate_current", verify=RULE, max_attempts=attempts)
    reset = Fix.model_validate(
        {
            "action": "reset_connector",
            "verify": RULE.model_dump(),
            "preconditions": [{"metric": "current_a", "max": 1.0}] if idle_only else [],
        }
    )
    return Playbooks([Playbook(model=MODEL, signatures={SIG: (derate, reset)})])


PROVEN = {(MODEL, SIG, "derate_current"): FixRecord(successes=200)}
"""A fleet record that makes derating the first choice (Thompson sampling draws)."""


def _engine(**kwargs: object) -> RemediationEngine:
    limits = kwargs.pop("limits", None)
    return RemediationEngine(
        _playbooks(**kwargs),  # type: ignore[arg-type]
        PROVEN,
        rng=random.Random(1),
        limits=limits,  # type: ignore[arg-type]
    )


def _sent(steps: list[Step]) -> SendFix:
    (send,) = [s for s in steps if isinstance(s, SendFix)]
    return send


def _samples(
    engine: RemediationEngine,
    start: float,
    n: int,
    metrics: dict[str, float],
    found: frozenset[str] = frozenset(),
) -> list[Step]:
    steps: list[Step] = []
    for i in range(n):
        steps += engine.observe("ev-1", start + 60 * i, metrics, found)
    return steps


def test_a_fix_is_healed_only_once_recovery_has_held_in_the_telemetry() -> None:
    engine = _engine()
    engine.observe("ev-1", T0, HOT, frozenset({SIG}))
    send = _sent(engine.start(7, "ev-1", MODEL, SIG, T0))
    assert send.attempt.action == "derate_current"  # what worked on the fleet before
    steps = engine.result("ev-1", send.attempt.command_id, "done", "ok", T0 + 30)
    assert [type(s) for s in steps] == [AttemptChanged]
    assert _samples(engine, T0 + 60, 2, COOL) == []  # healthy for 60 s: not yet
    (_changed, healed) = _samples(engine, T0 + 180, 1, COOL)
    assert isinstance(healed, Healed)
    assert healed.attempt.verified is True
    assert healed.attempt.evidence == (T0 + 60, T0 + 180)
    assert engine.records[(MODEL, SIG, "derate_current")] == FixRecord(successes=201)


def _healed_once(engine: RemediationEngine) -> float:
    """Incident 7 on ev-1 healed by derating; returns when it was verified."""
    engine.observe("ev-1", T0, HOT, frozenset({SIG}))
    send = _sent(engine.start(7, "ev-1", MODEL, SIG, T0))
    engine.result("ev-1", send.attempt.command_id, "done", "ok", T0 + 30)
    steps = _samples(engine, T0 + 60, 3, COOL)
    assert any(isinstance(s, Healed) for s in steps)
    return T0 + 180


def test_a_fault_back_soon_after_a_verified_fix_takes_the_verdict_back_and_goes_to_people() -> None:
    """The telemetry looked healthy for the hold, then the fault returned: the fix only
    masked it. Sending it again would be "verified" again, and again."""
    engine = _engine()
    healed_at = _healed_once(engine)
    assert engine.records[(MODEL, SIG, "derate_current")] == FixRecord(successes=201)
    back = healed_at + 3 * 3600
    (escalated,) = engine.start(8, "ev-1", MODEL, SIG, back)
    assert isinstance(escalated, Escalated)
    assert "came back 10800 s after derate_current was verified" in escalated.reason
    assert engine.records[(MODEL, SIG, "derate_current")] == FixRecord(200, 1)
    (later,) = engine.start(9, "ev-1", MODEL, SIG, back + 3600)
    assert isinstance(later, Escalated)
    assert "it is with service" in later.reason

    engine = _engine()
    healed_at = _healed_once(engine)
    engine.observe("ev-1", healed_at + 2 * 86_400, HOT, frozenset({SIG}))
    steps = engine.start(8, "ev-1", MODEL, SIG, healed_at + 2 * 86_400)
    assert _sent(steps).attempt.action == "derate_current", "days later: a new fault"


def test_done_without_recovery_is_no_fix_the_next_is_tried_then_escalation() -> None:
    engine = _engine()
    engine.observe("ev-1", T0, HOT, frozenset({SIG}))
    first = _sent(engine.start(7, "ev-1", MODEL, SIG, T0))
    engine.result("ev-1", first.attempt.command_id, "done", "ok", T0 + 30)
    steps = _samples(engine, T0 + 60, 12, HOT, frozenset({SIG}))  # still hot after 600 s
    second = _sent(steps)
    assert first.attempt.verified is False
    assert "still there" in first.attempt.detail
    assert second.attempt.action == "reset_connector"
    engine.result("ev-1", second.attempt.command_id, "done", "ok", T0 + 800)
    steps = _samples(engine, T0 + 860, 12, HOT, frozenset({SIG}))
    (escalated,) = [s for s in steps if isinstance(s, Escalated)]
    assert "every playbook fix was tried" in escalated.reason
    assert [a.verified for a in escalated.remediation.attempts] == [False, False]
    assert 7 not in engine.active


def test_a_result_that_never_comes_times_out_and_the_next_fix_goes() -> None:
    engine = _engine()
    engine.observe("ev-1", T0, HOT, frozenset({SIG}))
    first = _sent(engine.start(7, "ev-1", MODEL, SIG, T0))
    assert engine.tick(T0 + 60) == []
    second = _sent(engine.tick(T0 + 121))
    assert first.attempt.result_state == "timed_out"
    assert second.attempt.action == "reset_connector"


def test_a_quiet_device_cannot_prove_recovery() -> None:
    engine = _engine(attempts=1)
    engine.observe("ev-1", T0, HOT, frozenset({SIG}))
    first = _sent(engine.start(7, "ev-1", MODEL, SIG, T0))
    engine.result("ev-1", first.attempt.command_id, "done", "ok", T0 + 30)
    steps = engine.tick(T0 + 700)
    assert first.attempt.verified is False
    assert "no recovery" in first.attempt.detail
    assert _sent(steps).attempt.action == "reset_connector"


def test_a_fix_waits_for_its_preconditions_and_escalates_if_they_never_hold() -> None:
    charging = {"connector_temp_c": 80.0, "current_a": 16.0}
    engine = _engine(idle_only=True)
    engine.observe("ev-1", T0, charging, frozenset({SIG}))
    first = _sent(engine.start(7, "ev-1", MODEL, SIG, T0))
    engine.result("ev-1", first.attempt.command_id, "failed", "derate refused", T0 + 10)
    assert _samples(engine, T0 + 60, 3, charging, frozenset({SIG})) == []  # a car charges
    idle = {"connector_temp_c": 80.0, "current_a": 0.0}
    assert _sent(_samples(engine, T0 + 300, 1, idle, frozenset({SIG}))).attempt.action == (
        "reset_connector"
    )

    engine = _engine(idle_only=True)
    engine.observe("ev-2", T0, charging, frozenset({SIG}))
    first = _sent(engine.start(8, "ev-2", MODEL, SIG, T0))
    engine.result("ev-2", first.attempt.command_id, "failed", "no", T0 + 10)
    steps: list[Step] = []
    for i in range(1, 70):
        steps += engine.observe("ev-2", T0 + 60 * i, charging, frozenset({SIG}))
    (escalated,) = [s for s in steps if isinstance(s, Escalated)]
    assert "preconditions never held" in escalated.reason


def test_a_fix_waits_as_long_as_its_playbook_says_for_its_preconditions() -> None:
    """A charger whose car charges all evening: the connector reset waits for the car
    to go (the playbook's wait_s), then is sent; beyond that wait, people take over."""
    rule = RULE.model_dump()
    reset = Fix.model_validate(
        {
            "action": "reset_connector",
            "verify": rule,
            "preconditions": [{"metric": "current_a", "max": 1.0}],
            "wait_s": 6 * 3600,
        }
    )
    books = Playbooks([Playbook(model=MODEL, signatures={SIG: (reset,)})])
    charging = {"connector_temp_c": 80.0, "current_a": 16.0}
    idle = {"connector_temp_c": 80.0, "current_a": 0.0}
    engine = RemediationEngine(books, rng=random.Random(1))
    engine.observe("ev-1", T0, charging, frozenset({SIG}))
    assert engine.start(1, "ev-1", MODEL, SIG, T0) == []
    evening = _samples(engine, T0 + 60, 5 * 60, charging, frozenset({SIG}))
    assert evening == [], "five hours of charging: still waiting, not escalated"
    later = T0 + 60 + 5 * 3600
    assert _sent(_samples(engine, later, 1, idle, frozenset({SIG}))).attempt.action == (
        "reset_connector"
    )

    engine = RemediationEngine(books, rng=random.Random(1))
    engine.observe("ev-1", T0, charging, frozenset({SIG}))
    engine.start(2, "ev-1", MODEL, SIG, T0)
    escalated_at = None
    for i in range(1, 7 * 60):
        steps = engine.observe("ev-1", T0 + 60 * i, charging, frozenset({SIG}))
        if any(isinstance(s, Escalated) for s in steps):
            (escalated,) = steps
            assert isinstance(escalated, Escalated)
            assert "preconditions never held" in escalated.reason
            escalated_at = 60 * i
    assert escalated_at == 6 * 3600 + 60, "escalated once the playbook's wait ran out"


def test_commands_per_device_are_rate_limited() -> None:
    engine = _engine(limits=SafetyLimits(max_commands_per_hour=2))
    engine.observe("ev-1", T0, HOT, frozenset({SIG}))
    for incident in (1, 2):
        _sent(engine.start(incident, "ev-1", MODEL, SIG, T0 + incident))
    assert engine.start(3, "ev-1", MODEL, SIG, T0 + 3) == []  # waits for the hour to pass
    engine.forget(1)
    engine.forget(2)
    assert engine.tick(T0 + 1800) == []
    assert _sent(engine.tick(T0 + 3602)).remediation.incident_id == 3


def _fail_every_fix(
    engine: RemediationEngine, incident: int, device: str, at: float = T0
) -> list[Step]:
    engine.observe(device, at, HOT, frozenset({SIG}))
    steps = engine.start(incident, device, MODEL, SIG, at)
    while sends := [s for s in steps if isinstance(s, SendFix)]:
        steps = engine.result(device, sends[0].attempt.command_id, "failed", "no", at + 10)
    return steps


def test_a_signature_whose_remediations_keep_failing_trips_the_fleet_breaker() -> None:
    engine = _engine(limits=SafetyLimits(breaker_window=4, breaker_failures=3))
    for i in range(4):
        (gave_up,) = [s for s in _fail_every_fix(engine, i, f"ev-{i}") if isinstance(s, Escalated)]
        assert "every playbook fix was tried" in gave_up.reason
    steps = engine.start(99, "ev-9", MODEL, SIG, T0 + 60)
    (escalated,) = steps
    assert isinstance(escalated, Escalated)
    assert "auto-fix paused" in escalated.reason


def test_wrong_first_fixes_that_the_next_fix_repairs_never_trip_the_breaker() -> None:
    """The fleet learning which fix works is not a signature that cannot be fixed."""
    engine = _engine(limits=SafetyLimits(breaker_window=4, breaker_failures=3))
    for i in range(6):
        device = f"ev-{i}"
        engine.observe(device, T0, HOT, frozenset({SIG}))
        first = _sent(engine.start(i, device, MODEL, SIG, T0))
        second = _sent(engine.result(device, first.attempt.command_id, "failed", "no", T0 + 5))
        engine.result(device, second.attempt.command_id, "done", "ok", T0 + 10)
        healed = [
            s
            for k in range(1, 4)
            for s in engine.observe(device, T0 + 10 + 60 * k, COOL, frozenset())
            if isinstance(s, Healed)
        ]
        assert healed, f"incident {i} healed by its second fix"
    assert not isinstance(engine.start(99, "ev-9", MODEL, SIG, T0 + 600)[0], Escalated)


def _first_fixes(engine: RemediationEngine, incidents: int) -> list[str]:
    """Run incidents on fresh devices where only reset_connector cures the fault; the
    first fix chosen for each."""
    firsts = []
    for incident in range(incidents):
        device = f"ev-{incident}"
        t = T0 + incident * 10_000
        engine.observe(device, t, HOT, frozenset({SIG}))
        send = _sent(engine.start(incident, device, MODEL, SIG, t))
        firsts.append(send.attempt.action)
        while True:
            engine.result(device, send.attempt.command_id, "done", "ok", t + 10)
            cured = send.attempt.action == "reset_connector"
            metrics, found = (COOL, frozenset()) if cured else (HOT, frozenset({SIG}))
            steps: list[Step] = []
            for i in range(1, 14):
                steps += engine.observe(device, t + 10 + 60 * i, metrics, found)
                if any(isinstance(s, Healed | SendFix) for s in steps):
                    break
            following = [s for s in steps if isinstance(s, SendFix)]
            if not following:
                break
            send, t = following[0], t + 1000
    return firsts


def test_the_fleet_learns_to_try_the_fix_that_works_first() -> None:
    untaught = [
        _first_fixes(RemediationEngine(_playbooks(), rng=random.Random(seed)), 1)[0]
        for seed in range(40)
    ]
    assert untaught.count("derate_current") > untaught.count("reset_connector"), (
        "with no outcomes yet, the playbook's order leads"
    )
    engine = RemediationEngine(_playbooks(), rng=random.Random(2))
    taught = _first_fixes(engine, 40)
    assert taught[-20:].count("reset_connector") >= 18
    assert engine.records[(MODEL, SIG, "derate_current")].success_rate() == 0.0
    assert engine.records[(MODEL, SIG, "reset_connector")].success_rate() == 1.0


def test_a_device_whose_fixes_all_failed_is_left_to_service() -> None:
    engine = _engine()
    _fail_every_fix(engine, 1, "ev-1")
    (again,) = engine.start(2, "ev-1", MODEL, SIG, T0 + 3600)
    assert isinstance(again, Escalated)
    assert "it is with service" in again.reason
    engine.observe("ev-2", T0 + 3600, HOT, frozenset({SIG}))
    assert _sent(engine.start(3, "ev-2", MODEL, SIG, T0 + 3600)), "other devices still get fixes"


def test_one_broken_device_reopening_its_incident_never_trips_the_breaker() -> None:
    limits = SafetyLimits(breaker_window=4, breaker_failures=3, handed_over_s=60)
    engine = _engine(limits=limits)
    for incident in range(6):
        steps = _fail_every_fix(engine, incident, "ev-1", at=T0 + 7200 * incident)
        assert "every playbook fix was tried" in steps[-1].reason  # type: ignore[union-attr]
    later = T0 + 7200 * 6
    engine.observe("ev-2", later, HOT, frozenset({SIG}))
    assert _sent(engine.start(99, "ev-2", MODEL, SIG, later))
