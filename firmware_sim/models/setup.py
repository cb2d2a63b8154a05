"""The self-checks a simulated device runs for setup (first boot, every reset), from its
simulated state: deterministic for a device and a moment, so tests and the demo know
which steps a device ticks. A badly installed device (``install_badly``) fails the named
check with its model's reason until the installation is fixed and it checks again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from firmware_sim.faults import Fault, FaultKind

CHECKS = ("network", "firmware_current", "sensor_selftest", "calibration", "placement")
GENERIC_FAILURES: Mapping[str, str] = {
    "network": "no network link",
    "firmware_current": "firmware older than the current release",
    "sensor_selftest": "a sensor did not respond",
    "calibration": "a sensor reads outside its calibration tolerance",
    "placement": "the installation check failed",
}
"""Reasons for a bad installation where the model names none of its own."""


def device_self_checks(
    link_up: bool,
    firmware: str,
    latest_firmware: str,
    active_faults: Iterable[Fault],
    bad_installation: Mapping[str, str],
) -> dict[str, tuple[bool, str]]:
    """Check name -> (passed, reason when not)."""
    faults = list(active_faults)
    stuck = [f.target for f in faults if f.kind in (FaultKind.SENSOR_STUCK, FaultKind.SPIKE)]
    drifting = [f.target for f in faults if f.kind is FaultKind.SENSOR_DRIFT]
    results = {
        "network": (link_up, "" if link_up else "no network link"),
        "firmware_current": (
            firmware.startswith(latest_firmware),
            f"runs {firmware}, current is {latest_firmware}",
        ),
        "sensor_selftest": (not stuck, f"sensor {', '.join(stuck)} does not respond"),
        "calibration": (not drifting, f"sensor {', '.join(drifting)} out of calibration"),
        "placement": (True, ""),
    }
    for check, reason in bad_installation.items():
        results[check] = (False, reason)
    return {check: (ok, "" if ok else reason) for check, (ok, reason) in results.items()}
