"""A scenario's expectations judged from what a run observed, in words a person reads."""

from __future__ import annotations

from firmware_sim.care_expectations import (
    check_activation_within,
    check_outreach_before_failure,
    check_verified_recovery,
    failures_in_run,
)
from firmware_sim.expectations import (
    MAX_DEVICES_NAMED,
    AppliedFault,
    CloudObservation,
    FleetObservation,
    ObservedFix,
    ObservedIncident,
    ObservedOutreach,
    ObservedSetup,
    RunObservation,
    check_all_connected,
    check_every_seq_stored_once,
    check_expectations,
    check_incident_within,
    check_no_incident_on_healthy,
    check_unacknowledged,
)
from firmware_sim.faults import Fault, FaultWindow

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


# -- recovery, activation and outreach --------------------------------------------------


def care(
    incidents: tuple[ObservedIncident, ...] = (),
    faults: tuple[AppliedFault, ...] = (),
    setups: dict[str, ObservedSetup | None] | None = None,
    outreach: tuple[ObservedOutreach, ...] = (),
    failures: dict[str, float] | None = None,
) -> RunObservation:
    return RunObservation(
        fleet=FleetObservation((HP, HP2, EV), (), {}, 0),
        faults=faults,
        telemetry_interval_s=60.0,
        cloud=CloudObservation(incidents, {}, setups=setups or {}, outreach=outreach),
        started_s=T0,
        failures=failures or {},
    )


STUCK = "sensor-stuck/supply_temp_c"
TWO_STUCK = (AppliedFault(HP, STUCK, T0), AppliedFault(HP2, STUCK, T0 + 600))


def healed(
    device: str, opened: float, *fixes: ObservedFix, resolved: float | None = None
) -> ObservedIncident:
    return ObservedIncident(device, STUCK, opened, fixes, resolved)


def fix(verified: bool | None, sent: float) -> ObservedFix:
    return ObservedFix("recalibrate_sensor", verified, sent, sent + 30)


def test_verified_fixes_in_time_hold_with_the_slowest_recovery() -> None:
    held = check_verified_recovery(
        care(
            (
                healed(HP, T0 + 120, fix(False, T0 + 150), fix(True, T0 + 300), resolved=T0 + 420),
                healed(HP2, T0 + 700, fix(True, T0 + 800)),  # no resolved_at: its result time
            ),
            TWO_STUCK,
        ),
        600,
    )
    assert held.passed, held.detail
    assert held.name == "verified recovery within 600 s"
    assert held.detail == (
        "a verified fix recovered each of the 2 faulted devices within 600 s "
        "(after 420 s at the slowest, on lab-hp-00000)"
    )
    assert (held.measured, held.limit, held.devices) == (420, 600, ())


def test_recovery_fails_naming_why_each_device_did_not_recover_and_how_late() -> None:
    faults = (*TWO_STUCK, AppliedFault(EV, "connectivity/flapping", T0))
    failed = check_verified_recovery(
        care(
            (
                healed(HP, T0 + 120, fix(True, T0 + 900), resolved=T0 + 1000),
                healed(HP2, T0 + 700, fix(False, T0 + 800), fix(None, T0 + 1300)),
            ),
            faults,
        ),
        600,
    )
    assert not failed.passed
    assert failed.detail == (
        "2 of 3 faulted devices did not recover: lab-ev-00002 (no incident), "
        "lab-hp-00001 (2 fixes sent, 1 failed and 1 not verified yet); "
        "1 device recovered too late: lab-hp-00000 (after 1,000 s, 400 s late)"
    )
    assert failed.devices == (EV, HP2, HP)
    assert (failed.measured, failed.limit) == (1000, 600)


def test_a_fault_no_remote_fix_clears_is_not_expected_to_recover() -> None:
    worn = care(faults=(AppliedFault(HP, "wear-out/compressor", T0),))
    held = check_verified_recovery(worn, 600)
    assert held.passed
    assert "no device had a fault a remote fix can clear" in held.detail
    no_fix = check_verified_recovery(care((healed(HP, T0 + 60),), TWO_STUCK[:1]), 600)
    assert (
        no_fix.detail
        == "1 of 1 faulted device did not recover: lab-hp-00000 (1 incident, no fix sent)"
    )


def done(device_at: float) -> ObservedSetup:
    return ObservedSetup(True, device_at, (("network", "done", None),))


def test_every_device_activated_in_time_holds_with_the_slowest() -> None:
    held = check_activation_within(
        care(setups={HP: done(T0 + 40), HP2: done(T0 + 250), EV: done(T0 + 10)}), 300
    )
    assert held.passed
    assert held.name == "activation within 300 s"
    assert held.detail == (
        "all 3 devices activated within 300 s of the start (after 250 s at the slowest, "
        "on lab-hp-00001)"
    )
    assert (held.measured, held.limit) == (250, 300)


def test_activation_fails_naming_the_step_that_holds_each_device_up_or_how_late() -> None:
    stuck_on_owner = ObservedSetup(
        False,
        None,
        (
            ("network", "done", None),
            ("calibration", "failed", "calibration: reads 140 C"),
            ("owner_preferences", "needs_owner", None),
        ),
    )
    failed = check_activation_within(
        care(setups={HP: done(T0 + 500), HP2: stuck_on_owner, EV: None}), 300
    )
    assert not failed.passed
    assert failed.detail == (
        "2 of 3 devices not activated: lab-hp-00001 (held up by calibration failed: "
        "calibration: reads 140 C), lab-ev-00002 (the cloud has no setup for it); "
        "1 device activated too late: lab-hp-00000 (after 500 s, 200 s late)"
    )
    assert failed.devices == (EV, HP2, HP)
    assert (failed.measured, failed.limit) == (500, 300)


def test_outreach_ahead_of_each_failure_holds_with_lead_times() -> None:
    held = check_outreach_before_failure(
        care(
            outreach=(
                ObservedOutreach(HP, "wear_out", T0 + 3600),
                ObservedOutreach(HP, "wear_out", T0 + 7000),
                ObservedOutreach(EV, "wear_out", T0 + 100),
            ),
            failures={HP: T0 + 90_000, EV: T0 + 7300},
        )
    )
    assert held.passed
    assert held.detail == (
        "an outreach came before the failure on each of the 2 devices whose part failed: "
        "lead time lab-ev-00002 (7,200 s ahead), lab-hp-00000 (86,400 s ahead)"
    )
    assert (held.measured, held.limit) == (0, 0)


def test_a_failure_without_outreach_before_it_fails_naming_the_device() -> None:
    late = ObservedOutreach(HP2, "wear_out", T0 + 5000)
    failed = check_outreach_before_failure(
        care(
            outreach=(late, ObservedOutreach(HP, "wear_out", T0)),
            failures={HP: T0 + 600, HP2: T0 + 4000},
        )
    )
    assert not failed.passed
    assert failed.detail == (
        "1 of 2 devices whose part failed had no outreach before the failure: "
        "lab-hp-00001; the others had one, lead time lab-hp-00000 (600 s ahead)"
    )
    assert (failed.devices, failed.measured, failed.limit) == ((HP2,), 1, 0)


def test_a_setup_reminder_or_a_feedback_question_does_not_announce_a_failure() -> None:
    failed = check_outreach_before_failure(
        care(
            outreach=(
                ObservedOutreach(HP, "setup_stuck", T0),
                ObservedOutreach(HP, "feedback_question", T0 + 10),
            ),
            failures={HP: T0 + 600},
        )
    )
    assert not failed.passed
    escalated = ObservedOutreach(HP, "incident_escalated", T0 + 20)
    held = check_outreach_before_failure(care(outreach=(escalated,), failures={HP: T0 + 600}))
    assert held.passed, "a fault self-healing could not clear warns the owner too"


def test_a_run_where_nothing_failed_says_outreach_was_not_tested() -> None:
    held = check_outreach_before_failure(care())
    assert held.passed
    assert held.measured == 0
    assert "no device's part failed during the run" in held.detail
    assert "did not test outreach" in held.detail


def test_only_parts_that_failed_before_the_end_and_were_not_replaced_count() -> None:
    def window(start: float, life: float, end: float | None) -> FaultWindow:
        fault = Fault.from_signature("wear-out/compressor", start, life)
        return FaultWindow(fault, fault.kind, fault.signature, start, end, None, start + life)

    logs = {
        HP: (window(T0, 1000, None),),  # failed at T0 + 1000
        HP2: (window(T0, 1000, T0 + 500),),  # replaced before it failed
        EV: (window(T0, 9000, None),),  # still wearing at the end
    }
    assert failures_in_run(logs, T0 + 5000) == {HP: T0 + 1000}
