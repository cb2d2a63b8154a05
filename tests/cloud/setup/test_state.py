"""The pure setup core: device steps tick from self-check events, owner steps from the
owner, failures and stalls get help and then support, and the funnel counts a fleet."""

from __future__ import annotations

from cloud.setup import Checklists, SetupEvent, funnel, setup_state
from cloud.setup.state import check_results

T0 = 1_750_000_000.0
HOUR = 3600.0
CHECKS = ("network", "firmware_current", "sensor_selftest", "calibration", "placement")
CHARGER = Checklists.load().for_model("evcharger-ec11")


def run(ts: float, **outcomes: str) -> SetupEvent:
    return SetupEvent("setup.self_check", ts, {"trigger": "first_boot", **outcomes})


def all_ok(ts: float) -> SetupEvent:
    return run(ts, **dict.fromkeys(CHECKS, "ok"))


def states(state: object) -> dict[str, str]:
    return {s.step.id: s.state for s in state.steps}  # type: ignore[attr-defined]


def test_a_device_that_passes_its_checks_ticks_its_device_steps_and_waits_for_its_owner() -> None:
    state = setup_state(CHARGER, [all_ok(T0)], {}, T0 - 60, T0 + 60)
    assert states(state) == {
        **dict.fromkeys(CHECKS, "done"),
        "owner_preferences": "needs_owner",
        "warranty_registration": "needs_owner",
    }
    assert not state.activated
    assert state.activated_at is None
    completions = {"owner_preferences": T0 + HOUR, "warranty_registration": T0 + 2 * HOUR}
    done = setup_state(CHARGER, [all_ok(T0)], completions, T0 - 60, T0 + 3 * HOUR)
    assert done.activated
    assert done.activated_at == T0 + 2 * HOUR
    assert done.support_needed() == []


def test_the_latest_run_counts_and_a_failure_carries_its_checks_help() -> None:
    bad = run(T0, **{**dict.fromkeys(CHECKS, "ok"), "placement": "failed: no protective earth"})
    state = setup_state(CHARGER, [bad], {}, T0, T0 + 60)
    placement = next(s for s in state.steps if s.step.id == "placement")
    assert placement.state == "failed"
    assert placement.reason == "placement: no protective earth"
    assert placement.help is not None
    assert "earth" in placement.help
    assert not placement.needs_support
    assert state.failing_checks == {"placement": "no protective earth"}

    later = setup_state(CHARGER, [bad], {}, T0, T0 + 13 * HOUR)  # support_after_s 12 h
    assert later.support_needed() == [("placement", "placement: no protective earth")]

    fixed = setup_state(CHARGER, [all_ok(T0 + HOUR), bad], {}, T0, T0 + 13 * HOUR)
    assert states(fixed)["placement"] == "done"
    assert fixed.failing_checks == {}


def test_a_step_without_progress_gets_help_then_a_support_item() -> None:
    claimed = T0
    quiet = setup_state(CHARGER, [], {}, claimed, claimed + 60)
    assert states(quiet)["network"] == "pending"
    assert all(s.help is None for s in quiet.steps)

    stalled = setup_state(CHARGER, [], {}, claimed, claimed + 2 * HOUR)
    network = stalled.steps[0]
    assert network.reason == "stalled"
    assert network.help
    assert not network.needs_support
    assert stalled.steps[0].help == CHARGER.steps[0].help["default"]

    gone = setup_state(CHARGER, [], {}, claimed, claimed + 25 * HOUR)
    assert ("network", "stalled") in gone.support_needed()

    unclaimed = setup_state(CHARGER, [], {}, None, claimed + 90 * 86_400)
    assert unclaimed.support_needed() == []
    assert all(s.help is None for s in unclaimed.steps)


def test_progress_restarts_the_stall_clock() -> None:
    owner_ticks = {"owner_preferences": T0 + 6 * 86_400}
    state = setup_state(CHARGER, [all_ok(T0)], owner_ticks, T0, T0 + 8 * 86_400)
    warranty = next(s for s in state.steps if s.step.id == "warranty_registration")
    assert warranty.state == "needs_owner"
    assert warranty.reason is None


def test_values_that_are_not_outcomes_are_ignored() -> None:
    results = check_results(
        [SetupEvent("setup.self_check", T0, {"trigger": "reset", "network": True, "x": "ok"})]
    )
    assert list(results) == ["x"]
    assert check_results([SetupEvent("setup.facts", T0, {"network": "ok"})]) == {}


def test_the_funnel_counts_steps_drop_off_median_and_the_commonest_failing_check() -> None:
    owner = {"owner_preferences": T0 + HOUR, "warranty_registration": T0 + 3 * HOUR}
    no_earth = run(T0, **{**dict.fromkeys(CHECKS, "ok"), "placement": "failed: no earth"})
    devices = [
        (setup_state(CHARGER, [all_ok(T0)], owner, T0, T0 + 9 * HOUR), T0),
        (
            setup_state(
                CHARGER,
                [all_ok(T0)],
                {**owner, "warranty_registration": T0 + HOUR},
                T0,
                T0 + 9 * HOUR,
            ),
            T0,
        ),
        (setup_state(CHARGER, [no_earth], owner, T0, T0 + 9 * HOUR), T0),
        (setup_state(CHARGER, [all_ok(T0)], {}, T0, T0 + 9 * HOUR), T0),
    ]
    figures = funnel(devices)
    assert figures.devices == 4
    assert figures.activated == 2
    counts = {s.id: (s.done, s.drop_off) for s in figures.steps}
    assert counts["network"] == (4, 0)
    assert counts["placement"] == (3, 1)
    assert counts["owner_preferences"] == (3, 1)
    assert figures.median_time_to_activate_s == 2 * HOUR
    assert figures.most_common_failing_check == ("placement", 1)
    empty = funnel([])
    assert (empty.devices, empty.median_time_to_activate_s, empty.most_common_failing_check) == (
        0,
        None,
        None,
    )
