"""Simulated devices check themselves for setup from their simulated state, and a fleet
installs a reproducible share of them badly."""

from __future__ import annotations

import pytest

from device_agent.clock import ManualClock
from device_agent.hal import SelfChecking
from firmware_sim.faults import Fault
from firmware_sim.fleet import Fleet, FleetSpec
from firmware_sim.models import build_device

T0 = 1_750_000_000.0
CHECKS = {"network", "firmware_current", "sensor_selftest", "calibration", "placement"}


def test_a_healthy_device_passes_every_check_and_faults_fail_the_matching_one() -> None:
    clock = ManualClock(T0)
    device = build_device("heatpump-hp200", "heatpump-hp200-00000", clock, seed=1)
    assert isinstance(device, SelfChecking)
    assert device.self_checks() == dict.fromkeys(CHECKS, (True, ""))
    device.inject(Fault.from_signature("sensor-stuck/supply_temp_c", T0))
    device.inject(Fault.from_signature("sensor-drift/return_temp_c", T0))
    clock.advance(60)
    checks = device.self_checks()
    assert checks["sensor_selftest"] == (False, "sensor supply_temp_c does not respond")
    assert checks["calibration"] == (False, "sensor return_temp_c out of calibration")
    device.install_badly("placement")
    assert "flow temperature does not respond" in device.self_checks()["placement"][1]
    device.fix_installation()
    assert device.self_checks()["placement"] == (True, "")
    with pytest.raises(ValueError, match="no self-check 'teleport'"):
        device.install_badly("teleport")


def test_a_fleet_installs_a_reproducible_share_badly() -> None:
    def failing(seed: int) -> list[str]:
        spec = FleetSpec(
            devices=40, mqtt_url="mqtt://127.0.0.1:1", seed=seed, setup_failure_share=0.25
        )
        fleet = Fleet(spec, ManualClock(T0))
        try:
            return [
                u.agent.device_id
                for u in fleet.units
                if not all(ok for ok, _ in u.device.self_checks().values())
            ]
        finally:
            fleet.close()

    assert failing(3) == failing(3)
    assert 4 <= len(failing(3)) <= 18
    with pytest.raises(ValueError, match="setup_failure_share"):
        FleetSpec(devices=1, mqtt_url="mqtt://x:1", setup_failure_share=2.0)
