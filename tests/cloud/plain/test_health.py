"""The owner's story of a device: each state, which one wins, the words for models,
signatures and actions (never a raw signature), and times left to the page."""

from __future__ import annotations

import re

import pytest

from cloud.plain import (
    DeviceFacts,
    FixFacts,
    IncidentFacts,
    OutreachFacts,
    SetupProblem,
    action_words,
    device_name,
    health_story,
    problem_of,
)
from cloud.plain.health import DAY
from cloud.plain.names import ACTIONS, KINDS, PROBLEMS

NOW = 1_800_000_000.0
HOUR = 3600.0
DAY_S = 86_400.0
RAW = re.compile(r"[a-z]+-?[a-z]*/[a-z_{}*]+|_[a-z]+|\bhp200\b|\bec11\b")
"""A signature, a metric or action identifier, or a model number: never shown to owners."""


def incident(
    signature: str = "overheat/connector",
    status: str = "open",
    *,
    id: int = 1,
    opened_at: float = NOW - 2 * HOUR,
    resolved_at: float | None = None,
    fixes: tuple[FixFacts, ...] = (),
    false_positive: bool = False,
) -> IncidentFacts:
    return IncidentFacts(
        id=id,
        signature=signature,
        status=status,
        opened_at=opened_at,
        updated_at=resolved_at or opened_at + HOUR,
        resolved_at=resolved_at,
        fixes=fixes,
        false_positive=false_positive,
    )


def item(
    kind: str = "incident_escalated",
    status: str = "delivered",
    *,
    id: int = 10,
    slots: bool = True,
    booked_start: float | None = None,
    incident_id: int | None = 1,
    created_at: float = NOW - HOUR,
) -> OutreachFacts:
    return OutreachFacts(
        id=id,
        kind=kind,
        status=status,
        created_at=created_at,
        updated_at=created_at + 60,
        has_slots=slots,
        booked_start=booked_start,
        incident_id=incident_id,
    )


def facts(
    model: str | None = "evcharger-ec11", online: bool | None = True, **kw: object
) -> DeviceFacts:
    return DeviceFacts(model=model, online=online, last_seen=NOW - 60, **kw)  # type: ignore[arg-type]


def plain(story_text: str) -> None:
    assert not RAW.search(story_text), story_text


def test_a_healthy_device_is_working_well() -> None:
    story = health_story(facts(model="heatpump-hp200"), NOW)
    assert story.state == "ok"
    assert story.headline == "Your heat pump is working well."
    assert story.headline_at is None
    assert story.advice is None
    assert story.events == ()


def test_a_fix_verified_lately_is_good_news_with_its_day_left_to_the_page() -> None:
    fixed = incident(
        "sensor-stuck/supply_temp_c",
        "resolved",
        opened_at=NOW - 3.1 * DAY_S,
        resolved_at=NOW - 2 * DAY_S,
        fixes=(FixFacts("recalibrate_sensor", NOW - 3 * DAY_S, "done", NOW - 3 * DAY_S, True),),
    )
    story = health_story(facts(model="heatpump-hp200", incidents=[fixed]), NOW)
    assert story.state == "ok"
    assert story.headline == f"Your heat pump fixed a sensor glitch by itself {DAY}; all good."
    assert story.headline_at == NOW - 2 * DAY_S
    texts = [e.text for e in story.events]
    assert texts == [
        "Fixed: it is working normally again.",
        "We recalibrated its sensors remotely.",
        "We noticed a sensor glitch.",
    ]
    assert [e.at for e in story.events] == sorted((e.at for e in story.events), reverse=True)


def test_a_fault_that_cleared_without_a_fix_says_so() -> None:
    cleared = incident("spike/current_a", "resolved", resolved_at=NOW - HOUR)
    story = health_story(facts(incidents=[cleared]), NOW)
    assert story.state == "ok"
    assert (
        story.headline
        == f"Your EV charger had a sensor glitch {DAY} that cleared up by itself; all good."
    )


def test_old_good_news_is_not_the_headline_any_more() -> None:
    old = incident("spike/current_a", "resolved", resolved_at=NOW - 30 * DAY_S)
    story = health_story(facts(incidents=[old]), NOW)
    assert story.headline == "Your EV charger is working well."
    assert story.events  # still in the history


def test_an_open_fault_with_a_fix_in_flight_is_fixing() -> None:
    hot = incident(fixes=(FixFacts("reset_connector", NOW - HOUR),))
    story = health_story(facts(incidents=[hot]), NOW)
    assert story.state == "fixing"
    assert story.headline == "Your EV charger is overheating; we are trying a fix."
    assert [e.text for e in story.events] == [
        "We reset its charging plug remotely.",
        "We noticed an overheating charging plug.",
    ]


def test_an_open_fault_before_any_fix_is_being_looked_into_and_counts_the_others() -> None:
    story = health_story(
        facts(
            incidents=[
                incident("memory-leak/firmware", id=1, opened_at=NOW - HOUR),
                incident("connectivity/flapping", "mitigating", id=2, opened_at=NOW - 3 * HOUR),
            ]
        ),
        NOW,
    )
    assert story.state == "fixing"
    assert (
        story.headline
        == "Your EV charger has a memory leak; we are looking into it (1 more issue too)."
    )


def test_failed_fixes_are_told_as_the_device_or_the_telemetry_said() -> None:
    fixes = (
        FixFacts("reset_radio", NOW - 5 * HOUR, "timed_out", NOW - 4.9 * HOUR, False),
        FixFacts("reset_radio", NOW - 4 * HOUR, "done", NOW - 3.9 * HOUR, False),
        FixFacts("teleport", NOW - 3 * HOUR, "refused", NOW - 2.9 * HOUR, None),
    )
    story = health_story(
        facts(incidents=[incident("connectivity/flapping", "mitigating", fixes=fixes)]), NOW
    )
    texts = [e.text for e in story.events]
    assert "It did not answer in time." in texts
    assert "That did not help." in texts
    assert "It refused the fix." in texts
    assert "We sent it a fix remotely." in texts  # an action nobody named yet


def test_an_offered_visit_needs_service_and_asks_to_pick_a_time() -> None:
    escalated = incident("connectivity/flapping", "escalated")
    story = health_story(facts(incidents=[escalated], outreach=[item()]), NOW)
    assert story.state == "needs_service"
    assert story.headline == (
        "Your EV charger needs a service visit: it keeps losing its connection and remote "
        "fixes did not help. We have asked you to pick a time."
    )
    assert story.advice == "Open your messages to pick a time that suits you."
    assert "We offered you a service visit and asked you to pick a time." in [
        e.text for e in story.events
    ]


def test_a_booked_visit_says_so_and_gives_its_start() -> None:
    booked = item("wear_out", "booked", booked_start=NOW + DAY_S, incident_id=None)
    story = health_story(facts(model="heatpump-hp200", outreach=[booked]), NOW)
    assert story.state == "needs_service"
    assert (
        story.headline
        == "Your heat pump needs a service visit: a part is wearing out. Your visit is booked."
    )
    assert story.visit_at == NOW + DAY_S
    assert story.events[0].text == "You booked a service visit."


def test_a_reschedule_and_an_offer_without_slots() -> None:
    asked = health_story(facts(outreach=[item("wear_out", "rescheduled", incident_id=None)]), NOW)
    assert asked.headline.endswith("We are finding another time for the visit.")
    no_slots = health_story(
        facts(outreach=[item("incident_escalated", slots=False, incident_id=None)]), NOW
    )
    assert no_slots.headline == (
        "Your EV charger needs a service visit: remote fixes did not help. "
        "Our service team will be in touch."
    )


def test_an_escalated_fault_without_an_open_offer_still_needs_service() -> None:
    escalated = incident("overheat/compressor", "escalated")
    story = health_story(facts(model="heatpump-hp200", incidents=[escalated]), NOW)
    assert story.state == "needs_service"
    assert story.headline == (
        "Your heat pump is overheating; remote fixes did not help and our service team "
        "will be in touch."
    )
    declined = health_story(
        facts(model="heatpump-hp200", incidents=[escalated], outreach=[item(status="declined")]),
        NOW,
    )
    assert declined.state == "needs_service"
    assert "you declined a visit" in declined.headline
    assert "You said no to the visit." in [e.text for e in declined.events]


def test_a_failed_setup_step_needs_the_owner_with_its_help() -> None:
    problem = SetupProblem("Charger installed safely", "Ask your electrician to check the earth.")
    story = health_story(facts(setup_problems=[problem], incidents=[incident()]), NOW)
    assert story.state == "needs_you"  # ahead of the fault being fixed
    assert (
        story.headline
        == "Your EV charger needs you: the setup check “Charger installed safely” did not pass."
    )
    assert story.advice == "Ask your electrician to check the earth."


def test_a_stuck_setup_item_needs_the_owner() -> None:
    story = health_story(facts(outreach=[item("setup_stuck", slots=False, incident_id=None)]), NOW)
    assert story.state == "needs_you"
    assert story.headline == "Your EV charger needs you: its setup is not finished."


def test_a_device_out_of_touch_or_never_seen_needs_the_owner() -> None:
    offline = health_story(facts(online=False), NOW)
    assert offline.state == "needs_you"
    assert offline.headline == f"Your EV charger has not been in touch since {DAY}."
    assert offline.headline_at == NOW - 60
    boxed = health_story(facts(model="heatpump-hp200", online=None), NOW)
    assert boxed.headline == "Your heat pump has not been in touch yet."
    assert boxed.headline_at is None
    assert boxed.advice is not None
    assert "Wi-Fi" in boxed.advice


def test_service_beats_the_owner_beats_fixing() -> None:
    everything = facts(
        online=False,
        incidents=[incident("connectivity/flapping", "escalated", id=1), incident(id=2)],
        outreach=[item()],
        setup_problems=[SetupProblem("Charger installed safely")],
    )
    assert health_story(everything, NOW).state == "needs_service"


def test_a_false_positive_is_no_story() -> None:
    story = health_story(facts(incidents=[incident(false_positive=True)]), NOW)
    assert story.state == "ok"
    assert story.events == ()


def test_feedback_and_support_news_are_events_not_problems() -> None:
    story = health_story(
        facts(
            outreach=[
                item("feedback_question", "answered", id=1, slots=False, created_at=NOW - 2 * HOUR),
                item("support_update", id=2, slots=False, incident_id=None),
            ]
        ),
        NOW,
    )
    assert story.state == "ok"
    assert [e.text for e in story.events] == [
        "Our service team has news on your support request.",
        "You told us how it went. Thank you!",
        "We asked you how the fix went.",
    ]


def test_events_are_capped_newest_first() -> None:
    many = [
        incident(
            "spike/current_a",
            "resolved",
            id=n,
            opened_at=NOW - n * DAY_S,
            resolved_at=NOW - n * DAY_S + HOUR,
        )
        for n in range(1, 10)
    ]
    story = health_story(facts(incidents=many), NOW, max_events=5)
    assert len(story.events) == 5
    assert story.events[0].at == NOW - DAY_S + HOUR


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("heatpump-hp200", "heat pump"),
        ("heatpump-hp900", "heat pump"),
        ("evcharger-ec11", "EV charger"),
        ("boiler-b1", "device"),
        ("", "device"),
        (None, "device"),
    ],
)
def test_models_have_names_and_unknown_ones_are_devices(model: str | None, name: str) -> None:
    assert device_name(model) == name


@pytest.mark.parametrize(
    "signature",
    [
        *PROBLEMS,
        *(f"{kind}/some_metric_c" for kind in KINDS),
        "sensor-stuck/supply_temp_c",
        "spike/compressor_current_a",
        "brand-new/thing",
        "nonsense",
        "",
    ],
)
def test_every_signature_reads_as_plain_words(signature: str) -> None:
    problem = problem_of(signature)
    plain(problem.noun)
    plain(problem.ongoing)
    for state in ("open", "escalated", "resolved"):
        story = health_story(
            facts(
                incidents=[
                    incident(
                        signature,
                        state,
                        resolved_at=NOW - HOUR if state == "resolved" else None,
                        fixes=(FixFacts("restart_firmware", NOW - HOUR, "done", NOW - HOUR, True),),
                    )
                ]
            ),
            NOW,
        )
        plain(story.headline)
        for event in story.events:
            plain(event.text)


def test_unknown_signatures_and_actions_fall_back() -> None:
    assert problem_of("brand-new/thing").noun == "a problem"
    assert problem_of("sensor-stuck/anything").noun == "a sensor glitch"
    assert action_words("reset_radio") == "reset its radio"
    assert action_words("teleport") == "sent it a fix"
    for words in ACTIONS.values():
        plain(words)


def test_no_time_words_are_made_here() -> None:
    """Times are the page's: events and headlines carry none, only ``{day}``."""
    fixed = incident("spike/current_a", "resolved", resolved_at=NOW - HOUR)
    story = health_story(
        facts(incidents=[fixed], outreach=[item("wear_out", "booked", booked_start=NOW)]), NOW
    )
    words = " ".join([story.headline, *(e.text for e in story.events)])
    assert not re.search(r"\d|today|yesterday|monday|tuesday|ago", words, re.IGNORECASE)


def test_a_declined_wear_out_is_still_told() -> None:
    story = health_story(
        facts(model="heatpump-hp200", outreach=[item("wear_out", "declined", incident_id=None)]),
        NOW,
    )
    assert story.state == "needs_service"
    assert story.headline == (
        "Your heat pump has a part wearing out and you declined a visit; "
        "write to us if you change your mind."
    )
