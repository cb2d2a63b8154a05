"""Recovery judged on the samples that could have shown the fault."""

from __future__ import annotations

from cloud.heal.playbook import Verification
from cloud.heal.verify import RecoveryCheck

T0 = 1_780_000_000.0
SIG = "overheat/connector"
UNDER_LOAD = Verification.model_validate(
    {
        "within_s": 7200,
        "hold_s": 600,
        "bounds": [{"metric": "connector_temp_c", "max": 60}],
        "observable_when": [{"metric": "current_a", "min": 6}],
    }
)
IDLE = {"connector_temp_c": 25.0, "current_a": 0.0}
CHARGING_COOL = {"connector_temp_c": 45.0, "current_a": 32.0}
CHARGING_HOT = {"connector_temp_c": 85.0, "current_a": 32.0}


def _feed(check: RecoveryCheck, start: float, n: int, metrics: dict[str, float]) -> float:
    for i in range(n):
        check.observe(start + 60 * i, metrics, frozenset())
    return start + 60 * n


def test_a_cool_connector_with_no_car_proves_nothing() -> None:
    check = RecoveryCheck(UNDER_LOAD, SIG, T0)
    end = _feed(check, T0 + 60, 100, IDLE)  # long past hold_s, inside the window
    assert check.verdict == "pending"
    _feed(check, end, 30, IDLE)  # ...and past the window: never tested, never healed
    assert check.verdict == "failed"
    assert "no chance to show" in check.reason


def test_a_connector_that_stays_cool_under_load_is_verified() -> None:
    check = RecoveryCheck(UNDER_LOAD, SIG, T0)
    end = _feed(check, T0 + 60, 30, IDLE)
    _feed(check, end, 11, CHARGING_COOL)
    assert check.verdict == "verified"
    assert check.recovered_since == end


def test_a_connector_that_heats_again_under_load_fails() -> None:
    check = RecoveryCheck(UNDER_LOAD, SIG, T0)
    end = _feed(check, T0 + 60, 30, IDLE)
    _feed(check, end, 200, CHARGING_HOT)
    assert check.verdict == "failed"


def test_the_hold_must_be_seen_within_one_charge() -> None:
    check = RecoveryCheck(UNDER_LOAD, SIG, T0)
    end = _feed(check, T0 + 60, 6, CHARGING_COOL)  # the car leaves after 5 minutes...
    end = _feed(check, end, 20, IDLE)
    assert check.verdict == "pending"
    assert check.recovered_since is None  # ...the idle hours do not count as holding
    _feed(check, end, 11, CHARGING_COOL)
    assert check.verdict == "verified"


def test_a_load_reduction_is_judged_once_it_has_worn_off() -> None:
    """Cool while the load was lowered, hot again when it returns: not repaired."""
    rule = Verification.model_validate(
        {
            "within_s": 600,
            "hold_s": 300,
            "settle_s": 900,
            "bounds": UNDER_LOAD.model_dump()["bounds"],
        }
    )
    check = RecoveryCheck(rule, SIG, T0)
    end = _feed(check, T0 + 60, 14, CHARGING_COOL)  # the reduced load: cool, proves nothing
    assert check.verdict == "pending"
    assert check.recovered_since is None
    _feed(check, end, 20, CHARGING_HOT)
    assert check.verdict == "failed"
