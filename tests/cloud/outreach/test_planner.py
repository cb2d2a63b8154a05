"""The planner turns what the cloud knows into outreach drafts: only what is worth
saying, with the urgency, the lead time and visit slots an owner can act on."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cloud.outreach.planner import (
    DAY_S,
    EscalatedIncident,
    FailureForecast,
    FeedbackTrigger,
    OutreachPolicy,
    StuckSetup,
    SupportUpdate,
    WearConfirmation,
    plan,
    service_slots,
)

NOW = dt.datetime(2026, 3, 27, 9, 0, tzinfo=dt.UTC).timestamp()  # a Friday


def forecast(median_days: float, low_days: float, **kw: object) -> FailureForecast:
    defaults: dict[str, object] = {
        "device_id": "ev-1",
        "owner_id": "owner-1",
        "component": "connector",
        "signature": "wear-out/connector",
        "at": NOW,
        "median_s": median_days * DAY_S,
        "low_s": low_days * DAY_S,
        "high_s": median_days * 1.5 * DAY_S,
        "coverage": 0.8,
    }
    defaults.update(kw)
    return FailureForecast(**defaults)  # type: ignore[arg-type]


def test_a_part_far_from_failure_is_not_raised() -> None:
    assert plan(NOW, forecasts=[forecast(40, 20)]) == []


def test_a_part_whose_pessimistic_failure_is_within_the_lead_time_is_raised() -> None:
    policy = OutreachPolicy(lead_time_s=7 * DAY_S, arrange_s=2 * DAY_S)
    [draft] = plan(NOW, forecasts=[forecast(14, 8)], policy=policy)
    assert draft.kind == "wear_out"
    assert draft.urgency == "normal"
    assert draft.dedupe_key == "ev-1:wear_out:wear-out/connector"
    assert draft.predicted_failure_at == pytest.approx(NOW + 14 * DAY_S)
    assert draft.lead_time_s == pytest.approx(14 * DAY_S)
    assert "connector is wearing out" in draft.reason
    assert "14 days" in draft.reason
    assert draft.evidence["low_days"] == 8
    # Every suggested visit ends before the earliest failure the model thinks possible.
    assert draft.slots
    assert all(NOW + DAY_S <= s.start_s < s.end_s <= NOW + 8 * DAY_S for s in draft.slots)


def test_urgency_rises_as_failure_nears_and_only_hazards_are_critical() -> None:
    [soon] = plan(NOW, forecasts=[forecast(3, 0.5)])
    assert soon.urgency == "high"
    [hazard] = plan(NOW, forecasts=[forecast(3, 0.5, safety_critical=True)])
    assert hazard.urgency == "critical"
    assert hazard.safety_critical


def test_slots_fall_on_working_days_in_the_owners_zone() -> None:
    policy = OutreachPolicy(slots=4)
    slots = service_slots(NOW, None, "America/New_York", policy)
    assert len(slots) == 4
    tz = ZoneInfo("America/New_York")
    for slot in slots:
        start = dt.datetime.fromtimestamp(slot.start_s, tz)
        assert start.weekday() < 5
        assert start.hour in (8, 13)
        assert slot.start_s >= NOW + policy.earliest_visit_s


def test_slots_across_a_daylight_saving_change_keep_local_hours() -> None:
    # Europe/Berlin springs forward on 2026-03-29: Monday's 08:00 is 06:00 UTC, not 07:00.
    slots = service_slots(NOW, None, "Europe/Berlin", OutreachPolicy(slots=2))
    first = dt.datetime.fromtimestamp(slots[0].start_s, dt.UTC)
    assert (first.month, first.day, first.hour) == (3, 30, 6)


def test_when_no_slot_fits_before_failure_the_earliest_are_still_offered() -> None:
    slots = service_slots(NOW, NOW + 3600, "UTC", OutreachPolicy())
    assert len(slots) == 3


def test_an_escalation_names_what_was_tried_and_offers_a_visit() -> None:
    incident = EscalatedIncident(
        incident_id=7,
        device_id="hp-2",
        owner_id="owner-2",
        signature="overheat/compressor",
        summary="The compressor runs hot.",
        reason="every fix tried, none verified",
        escalated_at=NOW,
        attempts=("reduce_load", "clean_filter"),
    )
    [draft] = plan(NOW, escalations=[incident])
    assert draft.kind == "incident_escalated"
    assert draft.incident_id == 7
    assert (
        "From afar we eased its workload for a while and ran its filter-cleaning cycle"
        in draft.reason
    )
    assert draft.slots
    assert draft.dedupe_key == "hp-2:incident_escalated:7"


def test_stuck_setup_and_support_news_become_items() -> None:
    stuck = StuckSetup("hp-3", "o", "wifi_connected", "no network for 2 h", NOW - 7200)
    reply = SupportUpdate(5, "hp-3", "o", "reply", "Please check the filter.", NOW)
    drafts = plan(NOW, stuck=[stuck], support=[reply])
    assert [d.kind for d in drafts] == ["setup_stuck", "support_update"]
    assert "wifi connected" in drafts[0].reason
    assert drafts[1].support_request_id == 5
    assert "answered: Please check the filter." in drafts[1].reason


def test_feedback_is_asked_only_once_the_fix_had_time_to_hold() -> None:
    policy = OutreachPolicy(feedback_delay_s=3600)
    trigger = FeedbackTrigger("ev-1", "o", "verified_fix", 11, NOW - 600, incident_id=11)
    assert plan(NOW, feedback=[trigger], policy=policy) == []
    [question] = plan(NOW + 3600, feedback=[trigger], policy=policy)
    assert question.kind == "feedback_question"
    assert question.incident_id == 11
    assert question.urgency == "low"
    assert "Is it working as it should?" in question.reason


def test_planning_the_same_facts_twice_gives_the_same_keys() -> None:
    facts = {"forecasts": [forecast(5, 2)], "stuck": [StuckSetup("d", "o", "s", "r", NOW)]}
    first = plan(NOW, **facts)  # type: ignore[arg-type]
    again = plan(NOW + 600, **facts)  # type: ignore[arg-type]
    assert [d.dedupe_key for d in first] == [d.dedupe_key for d in again]


def test_a_median_at_the_models_horizon_says_nothing_within_it() -> None:
    """A model trained on capped lives predicts about its cap for every part it sees no
    wear in; a wide interval's low end must not turn that into an alarm."""
    at_cap = forecast(7.6, 3.0, horizon_s=8 * DAY_S)
    assert plan(NOW, forecasts=[at_cap]) == []
    wearing = forecast(4.0, 2.0, horizon_s=8 * DAY_S)
    assert [d.kind for d in plan(NOW, forecasts=[wearing])] == ["wear_out"]


def test_a_wear_out_is_raised_once_two_rounds_in_a_row_call_for_it() -> None:
    confirmation = WearConfirmation(rounds=2)
    worn, sound = forecast(5, 2), forecast(40, 20, device_id="ev-2")
    first = confirmation.confirm(plan(NOW, forecasts=[worn, sound]), [worn, sound])
    assert first == [], "one forecast is not enough"
    sound_blip = forecast(5, 2, device_id="ev-2")
    second = confirmation.confirm(plan(NOW, forecasts=[worn, sound_blip]), [worn, sound_blip])
    assert [d.device_id for d in second] == ["ev-1"], "the blip starts a streak of one"
    third = confirmation.confirm(plan(NOW, forecasts=[worn, sound]), [worn, sound])
    assert [d.device_id for d in third] == ["ev-1"]
    hazard = forecast(0.5, 0.2, device_id="ev-3", safety_critical=True)
    assert [d.urgency for d in confirmation.confirm(plan(NOW, forecasts=[hazard]), [hazard])] == [
        "critical"
    ], "a hazard goes at once"
