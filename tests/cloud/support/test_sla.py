"""The support rules without a database: SLA due times, overdue flags, escalation once
per reason, and the next step for a request's diagnostics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.support.sla import (
    FIRST_RESPONSE_OVERDUE,
    RESOLUTION_OVERDUE,
    CollectStep,
    SlaClock,
    SlaPolicy,
    new_escalations,
    next_collect_step,
    overdue,
)

T0 = 1_750_000_000.0
POLICY = SlaPolicy(4 * 3600.0, 72 * 3600.0, {"not_working": (3600.0, 24 * 3600.0)})


def test_due_times_follow_the_category() -> None:
    assert POLICY.due("noise", T0) == (T0 + 4 * 3600, T0 + 72 * 3600)
    assert POLICY.due("not_working", T0) == (T0 + 3600, T0 + 24 * 3600)


@pytest.mark.parametrize(
    ("by_category", "why"),
    [({"noise": (7200.0, 3600.0)}, "first_response_s"), ({"broken": (1.0, 2.0)}, "unknown")],
)
def test_a_policy_that_makes_no_sense_is_refused(
    by_category: dict[str, tuple[float, float]], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        SlaPolicy(3600.0, 7200.0, by_category)


def _clock(**changes: object) -> SlaClock:
    fields: dict[str, object] = {
        "status": "open",
        "first_response_due": T0 + 10,
        "resolution_due": T0 + 100,
        "first_response_at": None,
        "resolved_at": None,
    }
    fields.update(changes)
    return SlaClock(**fields)  # type: ignore[arg-type]


def test_escalation_comes_once_per_reason_and_never_while_collecting_or_resolved() -> None:
    assert new_escalations(_clock(), T0 + 10) == []
    assert new_escalations(_clock(), T0 + 11) == [FIRST_RESPONSE_OVERDUE]
    escalated = _clock(status="escalated", escalation=FIRST_RESPONSE_OVERDUE)
    assert new_escalations(escalated, T0 + 50) == []
    assert new_escalations(escalated, T0 + 101) == [RESOLUTION_OVERDUE]
    answered = _clock(status="answered", first_response_at=T0 + 5)
    assert new_escalations(answered, T0 + 101) == [RESOLUTION_OVERDUE]
    assert new_escalations(_clock(status="collecting"), T0 + 1000) == []
    assert new_escalations(_clock(status="resolved", resolved_at=T0 + 1), T0 + 1000) == []


def test_a_late_answer_stays_late_in_the_flags() -> None:
    assert overdue(_clock(first_response_at=T0 + 20), T0 + 30) == (True, False)
    assert overdue(_clock(first_response_at=T0 + 5, resolved_at=T0 + 50), T0 + 500) == (
        False,
        False,
    )


@given(
    filed=st.floats(0, 1e6),
    first=st.floats(1, 1e5),
    extra=st.floats(0, 1e5),
    later=st.floats(0, 1e6),
)
def test_nothing_escalates_before_its_due_time(
    filed: float, first: float, extra: float, later: float
) -> None:
    policy = SlaPolicy(first, first + extra)
    first_due, resolution_due = policy.due("other", T0 + filed)
    clock = _clock(first_response_due=first_due, resolution_due=resolution_due)
    now = T0 + filed + later
    reasons = new_escalations(clock, now)
    assert (FIRST_RESPONSE_OVERDUE in reasons) == (now > first_due)
    assert (RESOLUTION_OVERDUE in reasons) == (now > resolution_due)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"sent_at": None, "online": True}, CollectStep("send")),
        ({"sent_at": None, "online": False}, "offline"),
        ({"bundle_arrived": True, "online": False}, CollectStep("attach")),
        ({"now": T0 + 119}, CollectStep("wait")),
        ({"now": T0 + 120}, "within 120 s"),
        ({"result": ("done", "bundle b1")}, CollectStep("wait")),
        ({"result": ("refused", "unknown action")}, "(refused: unknown action)"),
    ],
)
def test_the_next_step_for_diagnostics(state: dict[str, object], expected: object) -> None:
    inputs: dict[str, object] = {
        "now": T0 + 1,
        "sent_at": T0,
        "online": True,
        "bundle_arrived": False,
        "result": None,
        "timeout_s": 120.0,
    }
    inputs.update(state)
    step = next_collect_step(**inputs)  # type: ignore[arg-type]
    if isinstance(expected, CollectStep):
        assert step == expected
    else:
        assert step.action == "fallback"
        assert str(expected) in step.note
