"""A scenario's expectations judged from what a run observed, in words a person reads."""

from __future__ import annotations

from firmware_sim.expectations import (
    MAX_DEVICES_NAMED,
    FleetObservation,
    check_all_connected,
    check_expectations,
    check_unacknowledged,
)

FLEET = ("lab-a-00000", "lab-b-00001", "lab-a-00002")


def observed(not_connected: tuple[str, ...] = (), **waiting: int) -> FleetObservation:
    return FleetObservation(FLEET, not_connected, dict(waiting), samples_taken=1234)


def test_every_device_connected_holds_and_says_so() -> None:
    held = check_all_connected(observed())
    assert held.passed
    assert held.detail == "all 3 devices connected to the broker"
    assert (held.measured, held.limit, held.devices) == (3, 3, ())


def test_a_device_that_never_connected_is_named_with_the_count() -> None:
    failed = check_all_connected(observed(("lab-b-00001",)))
    assert not failed.passed
    assert failed.detail == "1 of 3 devices did not connect to the broker (only 2 did)"
    assert failed.devices == ("lab-b-00001",)
    assert (failed.measured, failed.limit) == (2, 3)


def test_samples_left_over_the_limit_fail_by_how_many_and_where() -> None:
    failed = check_unacknowledged(observed(**{"lab-a-00000": 2, "lab-b-00001": 10}), 5)
    assert not failed.passed
    assert failed.detail == (
        "12 of the 1,234 samples taken were never acknowledged by the cloud, "
        "7 over the limit of 5; they stayed on 2 devices"
    )
    assert failed.devices == ("lab-b-00001", "lab-a-00000"), "most left first"
    assert (failed.measured, failed.limit) == (12, 5)


def test_samples_within_the_limit_or_none_hold() -> None:
    within = check_unacknowledged(observed(**{"lab-a-00000": 2}), 5)
    assert within.passed
    assert "within the limit of 5" in within.detail
    none = check_unacknowledged(observed(**{"lab-a-00000": 0}), 0)
    assert none.passed
    assert none.detail == "the cloud acknowledged every one of the 1,234 samples taken"
    assert none.devices == ()


def test_many_devices_are_listed_up_to_a_bound_and_the_rest_counted() -> None:
    fleet = tuple(f"lab-x-{i:05d}" for i in range(MAX_DEVICES_NAMED + 20))
    failed = check_all_connected(FleetObservation(fleet, fleet, {}, 0))
    assert len(failed.devices) == MAX_DEVICES_NAMED
    assert failed.detail == (
        f"none of the {len(fleet)} devices connected to the broker "
        f"(the first {MAX_DEVICES_NAMED} are listed)"
    )


def test_only_the_expectations_asked_for_are_checked_in_order() -> None:
    both = check_expectations(observed(), all_connected=True, max_unacknowledged=0)
    assert [e.name for e in both] == ["all_connected", "max_unacknowledged_samples"]
    assert check_expectations(observed(), all_connected=False, max_unacknowledged=None) == []
