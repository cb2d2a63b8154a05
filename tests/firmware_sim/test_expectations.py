"""A scenario's expectations judged from what a run observed, in words a person reads."""

from __future__ import annotations

from firmware_sim.expectations import (
    MAX_DEVICES_NAMED,
    AppliedFault,
    CloudObservation,
    FleetObservation,
    ObservedIncident,
    RunObservation,
    check_all_connected,
    check_every_seq_stored_once,
    check_expectations,
    check_incident_within,
    check_no_incident_on_healthy,
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


# -- judged from what the cloud recorded ------------------------------------------------

T0 = 1_780_000_000.0
HP, HP2, EV = "lab-hp-00000", "lab-hp-00001", "lab-ev-00002"


def run(
    incidents: tuple[ObservedIncident, ...] = (),
    stored: dict[str, list[int]] | None = None,
    produced: dict[str, int] | None = None,
    cloud_error: str | None = None,
) -> RunObservation:
    fleet = FleetObservation((HP, HP2, EV), (), {}, 0, produced or {})
    return RunObservation(
        fleet=fleet,
        faults=(
            AppliedFault(HP, "sensor-stuck/supply_temp_c", T0),
            AppliedFault(HP2, "sensor-stuck/supply_temp_c", T0 + 600),
        ),
        telemetry_interval_s=60.0,
        cloud=CloudObservation(incidents, stored or {}, cloud_error),
    )


def stuck(device: str, opened_at_s: float) -> ObservedIncident:
    return ObservedIncident(device, "sensor-stuck/supply_temp_c", opened_at_s)


def test_incidents_on_every_faulted_device_in_time_hold_with_the_slowest_delay() -> None:
    held = check_incident_within(
        run((stuck(HP, T0 + 180), stuck(HP2, T0 + 600 + 300))), "sensor-stuck/supply_temp_c", 5
    )
    assert held.passed
    assert held.name == "incident sensor-stuck/supply_temp_c within 5 intervals"
    assert held.detail == (
        "an incident sensor-stuck/supply_temp_c opened on each of the 2 faulted devices "
        "within 5 intervals of 60 s (after 5.0 at the slowest, on lab-hp-00001)"
    )
    assert (held.measured, held.limit) == (5.0, 5)


def test_a_late_and_a_missing_incident_fail_naming_the_devices_and_by_how_much() -> None:
    early_false_alarm = stuck(HP2, T0)  # before its fault began: not a detection of it
    failed = check_incident_within(
        run((stuck(HP, T0 + 480), early_false_alarm)), "sensor-stuck/supply_temp_c", 3
    )
    assert not failed.passed
    assert failed.detail == (
        "no incident sensor-stuck/supply_temp_c opened on 1 of the 2 faulted devices: "
        "lab-hp-00001; on 1 device it opened later than 3 intervals of 60 s: "
        "lab-hp-00000 (after 8.0, 5.0 late)"
    )
    assert failed.devices == (HP2, HP)
    assert (failed.measured, failed.limit) == (8.0, 3)


def test_incidents_on_healthy_devices_fail_with_their_signatures() -> None:
    assert check_no_incident_on_healthy(run((stuck(HP, T0 + 60),))).detail == (
        "no incident opened on any of the 1 healthy device"
    )
    failed = check_no_incident_on_healthy(
        run((ObservedIncident(EV, "anomaly/current_a", T0), ObservedIncident(EV, "spike/x", T0)))
    )
    assert not failed.passed
    assert failed.detail == (
        "2 incidents opened on 1 of the 1 healthy device, 2 over the limit of 0: "
        "lab-ev-00002 (anomaly/current_a, spike/x)"
    )
    assert (failed.devices, failed.measured, failed.limit) == ((EV,), 2, 0)


def test_every_seq_stored_once_names_gaps_and_duplicates_per_device() -> None:
    produced = {HP: 5, HP2: 3, EV: 2}
    held = check_every_seq_stored_once(
        run(stored={HP: [0, 1, 2, 3, 4], HP2: [0, 1, 2], EV: [1, 0]}, produced=produced)
    )
    assert held.passed
    assert (
        held.detail == "every one of the 10 samples the 3 devices produced is stored exactly once"
    )
    failed = check_every_seq_stored_once(
        run(stored={HP: [0, 1, 1, 4], HP2: [0, 1, 2], EV: [0, 1, 7]}, produced=produced)
    )
    assert not failed.passed
    assert failed.detail == (
        "on 2 of 3 devices the cloud did not store each seq once: 2 of the 10 seqs produced "
        "are missing; 1 extra copy of seqs stored more than once; 1 stored seqs were never "
        "produced: lab-hp-00000 (2 missing, 1 duplicated), lab-ev-00002 (1 never produced)"
    )
    assert (failed.devices, failed.measured, failed.limit) == ((EV, HP), 4, 0)


def test_a_cloud_that_could_not_be_read_fails_the_expectations_that_need_it() -> None:
    failed = check_every_seq_stored_once(run(cloud_error="cannot read the cloud at http://x"))
    assert not failed.passed
    assert failed.detail == "not judged: cannot read the cloud at http://x"
