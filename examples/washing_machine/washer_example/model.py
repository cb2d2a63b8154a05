"""A front-loading washing machine (``washer-wm1``), built only on Aftercare's public
simulator base: nothing in the Aftercare project knows this module exists.

Physics, kept simple but coherent:

- the household starts a wash cycle in some four-hour blocks of the day (a pure function
  of time, so a fleet at 60x sees the same laundry days as one in real time); a cycle
  runs fill, wash, drain, rinse and spin, then the machine idles with its door unlocked;
- the water inlet valve is open while filling (and at the start of the rinse), the door
  stays locked for the whole cycle, the drum turns slowly to wash and rinse and fast to
  spin;
- the heater warms the wash water towards 40 °C; the drum motor's current follows the
  drum speed and its temperature follows that load through a 10-minute thermal lag.

Faults: the simulator's sensor faults (a stuck motor temperature sensor, a drifting level
sensor, a spiking current reading), memory leaks and a flapping Wi-Fi link all apply, with
the remedies the simulator already has (``recalibrate_sensor``, ``restart_firmware``,
``reset_radio``, ``service_visit``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from device_agent.clock import Clock
from device_agent.contract import Scalar
from firmware_sim.models import (
    FIRMWARE_METRICS,
    ActionHandler,
    Environment,
    MetricSpec,
    SimulatedDevice,
    number_param,
)
from firmware_sim.models.signals import SECONDS_PER_DAY, derive_key, relax, unit

PHASES: tuple[tuple[str, float], ...] = (
    ("fill", 240.0),
    ("wash", 2_700.0),
    ("drain", 180.0),
    ("rinse", 900.0),
    ("spin", 720.0),
)
"""A cycle's phases in order, with their lengths in seconds."""
PHASE_CODES: Mapping[str, float] = {
    "idle": 0.0,
    **{n: float(i + 1) for i, (n, _) in enumerate(PHASES)},
}
"""Telemetry is numbers only: the phase is reported by its code (idle 0, fill 1 ... spin 5)."""
CYCLE_S = sum(length for _, length in PHASES)
BLOCK_S = 4 * 3_600.0
"""A household starts at most one cycle per block of four hours."""
CYCLE_SHARE = 0.35
"""Share of blocks with a wash in them (about two washes a day)."""
WATER_L = 12.0
RINSE_FILL_S = 120.0
WASH_TEMP_C = 40.0
AMBIENT_C = 21.0
HEATER_W = 2_000.0
MAINS_V = 230.0
DRUM_RPM = {"wash": 50.0, "rinse": 50.0, "spin": 1_200.0}
MOTOR_TAU_S = 600.0
WATER_TAU_S = 900.0


def cycle_phase(key: int, t_s: float) -> tuple[str, float]:
    """(phase, seconds into it) at ``t_s``: ``idle`` outside a cycle. A pure function of
    (machine key, time), so nothing depends on how often the machine is read."""
    block = math.floor(t_s / BLOCK_S)
    if unit(key, block, 0) >= CYCLE_SHARE:
        return "idle", 0.0
    start_s = block * BLOCK_S + unit(key, block, 1) * (BLOCK_S - CYCLE_S)
    elapsed = t_s - start_s
    if elapsed < 0:
        return "idle", 0.0
    for name, length in PHASES:
        if elapsed < length:
            return name, elapsed
        elapsed -= length
    return "idle", 0.0


class WashingMachine(SimulatedDevice):
    """Simulated ``washer-wm1``; see the module docstring for the physics."""

    MODEL: ClassVar[str] = "washer-wm1"
    FIRMWARE: ClassVar[str] = "1.3.0"
    OVERHEAT_COMPONENT: ClassVar[str] = "motor"
    WEAR_COMPONENT: ClassVar[str] = "motor"
    HEAP_KB: ClassVar[float] = 512.0
    METRICS: ClassVar[Mapping[str, MetricSpec]] = {
        "cycle_phase": MetricSpec("", 0.0, 5.0, 1.0),
        "drum_speed_rpm": MetricSpec("rpm", 0.0, 1_400.0, 50.0),
        "motor_temp_c": MetricSpec("°C", 10.0, 90.0, 2.0),
        "motor_current_a": MetricSpec("A", 0.0, 8.0, 0.3),
        "water_temp_c": MetricSpec("°C", 5.0, 95.0, 1.0),
        "water_level_l": MetricSpec("L", 0.0, 20.0, 0.5),
        "inlet_valve_open": MetricSpec("", 0.0, 1.0, 1.0),
        "door_locked": MetricSpec("", 0.0, 1.0, 1.0),
        "power_w": MetricSpec("W", 0.0, 3_000.0, 50.0),
        **FIRMWARE_METRICS,
    }
    SETUP_FAILURES: ClassVar[Mapping[str, str]] = {
        "placement": "the drum shakes at spin speed: transit bolts still fitted or feet not level",
        "calibration": "the water level sensor reads 2 L with the drum empty",
    }
    FAULT_MENU: ClassVar[tuple[tuple[str, float], ...]] = (
        ("sensor-stuck/motor_temp_c", 2.0),
        ("sensor-drift/water_level_l", 1.0),
        ("spike/motor_current_a", 1.0),
        ("memory-leak/firmware", 2.0),
        ("connectivity/flapping", 2.0),
    )

    def __init__(
        self, device_id: str, clock: Clock, seed: int, environment: Environment | None = None
    ) -> None:
        super().__init__(device_id, clock, seed, environment)
        self._cycle_key = derive_key(self._key, "laundry")
        self._spin_limit = 1.0
        self._spin_limit_until_s = -math.inf
        self._motor_c = AMBIENT_C
        self._water_c = AMBIENT_C

    # -- what the machine is doing ---------------------------------------------------------

    def _phase(self, t_s: float) -> tuple[str, float]:
        return cycle_phase(self._cycle_key, t_s)

    def _drum_rpm(self, t_s: float) -> float:
        phase, _ = self._phase(t_s)
        rpm = DRUM_RPM.get(phase, 0.0)
        if phase == "spin" and t_s < self._spin_limit_until_s:
            rpm *= self._spin_limit
        return rpm

    def _heating(self, t_s: float) -> bool:
        phase, elapsed = self._phase(t_s)
        return phase == "wash" and elapsed < 1_500.0 and self._water_c < WASH_TEMP_C

    def _water_level_l(self, t_s: float) -> float:
        phase, elapsed = self._phase(t_s)
        if phase == "fill":
            return WATER_L * elapsed / PHASES[0][1]
        if phase == "wash":
            return WATER_L
        if phase == "rinse":
            return WATER_L * min(1.0, elapsed / RINSE_FILL_S)
        return 0.0

    def _valve_open(self, t_s: float) -> bool:
        phase, elapsed = self._phase(t_s)
        return phase == "fill" or (phase == "rinse" and elapsed < RINSE_FILL_S)

    def _motor_current_a(self, t_s: float) -> float:
        rpm = self._drum_rpm(t_s)
        return 0.0 if rpm == 0.0 else 0.4 + 0.0035 * rpm

    # -- SimulatedDevice hooks ---------------------------------------------------------------

    def _step(self, t0_s: float, t1_s: float) -> None:
        dt = t1_s - t0_s
        motor_target = AMBIENT_C + 9.0 * self._motor_current_a(t0_s)
        self._motor_c = relax(self._motor_c, motor_target, dt, MOTOR_TAU_S)
        water_target = WASH_TEMP_C + 5.0 if self._heating(t0_s) else AMBIENT_C
        self._water_c = relax(self._water_c, water_target, dt, WATER_TAU_S)

    def _physics_readings(self, now_s: float) -> dict[str, float]:
        phase, _ = self._phase(now_s)
        current_a = self._motor_current_a(now_s)
        heater_w = HEATER_W if self._heating(now_s) else 0.0
        noise = self._noise
        return {
            "cycle_phase": PHASE_CODES[phase],
            "drum_speed_rpm": self._drum_rpm(now_s),
            "motor_temp_c": self._motor_c + noise(0.2),
            "motor_current_a": max(0.0, current_a + (noise(0.03) if current_a else 0.0)),
            "water_temp_c": self._water_c + noise(0.1),
            "water_level_l": max(0.0, self._water_level_l(now_s) + noise(0.05)),
            "inlet_valve_open": 1.0 if self._valve_open(now_s) else 0.0,
            "door_locked": 0.0 if phase == "idle" else 1.0,
            "power_w": max(0.0, 3.0 + current_a * MAINS_V * 0.9 + heater_w + noise(2.0)),
        }

    def _cpu_activity_pct(self, now_s: float) -> float:
        phase, _ = self._phase(now_s)
        return 6.0 if phase == "idle" else 18.0

    def _model_handlers(self) -> dict[str, ActionHandler]:
        return {"service_visit": self._service_visit, "reduce_load": self._reduce_load}

    def _model_facts(self) -> dict[str, Scalar]:
        return {"hardware_rev": "A1", "drum_capacity_kg": 8.0, "max_spin_rpm": 1_400.0}

    # -- actions -------------------------------------------------------------------------------

    def _service_visit(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """A technician checks the motor, the level sensor and the inlet valve; the sensor
        faults it replaces end through the simulator's remedies table."""
        return "service visit completed"

    def _reduce_load(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """Cap the spin speed for a while (a gentler load on the motor and bearings)."""
        fraction = number_param(params, "fraction", 0.6, 0.3, 1.0)
        duration_s = number_param(params, "duration_s", SECONDS_PER_DAY, 60.0, 7 * SECONDS_PER_DAY)
        self._spin_limit = fraction
        self._spin_limit_until_s = now_s + duration_s
        return f"spin limited to {fraction:.0%} for {duration_s:.0f} s"
