"""An air-to-water heat pump (``heatpump-hp200``) heating a house through the season.

Physics, kept simple but coherent:

- the inverter compressor follows the building's heat demand, ``UA * (21 °C - outdoor)``,
  between 20 % and 100 % of its 8 kW capacity, and runs flat out for domestic hot water
  (DHW) twice a day with a 55 °C supply;
- the supply water follows a weather-compensation curve through a 10-minute thermal lag;
  the return is colder by the delivered heat over the water flow;
- COP is a fraction (0.45 when new) of the Carnot COP between evaporator and condenser;
  that fraction wears down with compressor operating hours and a fouling air filter;
- the compressor shell temperature rises with speed, lift and fouling, 15-minute lag.

An ``overheat/compressor`` fault (low refrigerant, blocked coil) adds heat that builds up
over half an hour and cuts efficiency, so the compressor runs hotter, COP falls and, for
the same heat, electrical power and compressor current rise.

A ``wear-out/compressor`` fault (worn valves and bearings) costs efficiency along an
accelerating path and heats the shell: COP falls and, for the same heat, compressor
current and temperature rise. When the compressor seizes it stops: no heat, no current,
the water cools, until a service visit replaces it (and its wear starts afresh).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from device_agent.clock import Clock
from device_agent.contract import Scalar
from firmware_sim.faults import FaultKind
from firmware_sim.models.base import (
    FIRMWARE_METRICS,
    ActionHandler,
    MetricSpec,
    SimulatedDevice,
    number_param,
)
from firmware_sim.models.environment import Environment
from firmware_sim.models.signals import SECONDS_PER_DAY, Weather, derive_key, local_hour, relax

CAPACITY_KW = 8.0
INDOOR_SETPOINT_C = 21.0
MIN_SPEED = 0.2
MAINS_V = 230.0
POWER_FACTOR = 0.95
WATER_KJ_PER_KG_K = 4.186
SUPPLY_TAU_S = 600.0
COMPRESSOR_TAU_S = 900.0
ETA_NEW = 0.45
ETA_LOSS_PER_RUN_H = 5.0e-6
FOULING_FULL_S = 180 * SECONDS_PER_DAY
"""Running flat out, the air filter clogs completely in about half a year."""
OVERHEAT_EXTRA_C = 35.0
WEAR_ETA_LOSS = 0.25
"""Efficiency a worn compressor has lost at failure (magnitude 1)."""
WEAR_EXTRA_C = 12.0
"""Extra shell temperature of a worn compressor at failure, at full speed (magnitude 1)."""
STOPPED_SUPPLY_C = 23.0
"""What the heating water cools to with the compressor stopped (the house's warmth)."""


class HeatPump(SimulatedDevice):
    """Simulated ``heatpump-hp200``; see the module docstring for the physics."""

    MODEL: ClassVar[str] = "heatpump-hp200"
    FIRMWARE: ClassVar[str] = "4.2.1"
    OVERHEAT_COMPONENT: ClassVar[str] = "compressor"
    WEAR_COMPONENT: ClassVar[str] = "compressor"
    HEAP_KB: ClassVar[float] = 2048.0
    METRICS: ClassVar[Mapping[str, MetricSpec]] = {
        "outdoor_temp_c": MetricSpec("°C", -30.0, 35.0, 1.0),
        "supply_temp_c": MetricSpec("°C", 20.0, 60.0, 1.0),
        "return_temp_c": MetricSpec("°C", 15.0, 58.0, 1.0),
        "compressor_temp_c": MetricSpec("°C", 20.0, 100.0, 2.0),
        "compressor_current_a": MetricSpec("A", 0.0, 25.0, 0.5),
        "compressor_speed_pct": MetricSpec("%", 0.0, 100.0, 5.0),
        "heat_output_kw": MetricSpec("kW", 0.0, 9.0, 0.3),
        "power_w": MetricSpec("W", 0.0, 6000.0, 100.0),
        "cop": MetricSpec("", 1.0, 7.0, 0.2),
        "fan_speed_pct": MetricSpec("%", 0.0, 100.0, 5.0),
        "pump_speed_pct": MetricSpec("%", 0.0, 100.0, 5.0),
        "compressor_run_h": MetricSpec("h", 0.0, 100_000.0, 1.0),
        **FIRMWARE_METRICS,
    }
    SETUP_FAILURES: ClassVar[Mapping[str, str]] = {
        "placement": "flow temperature does not respond: flow sensor off the pipe or valve shut",
        "calibration": "return temperature sensor reads 6 K off the flow sensor at rest",
    }
    FAULT_MENU: ClassVar[tuple[tuple[str, float], ...]] = (
        ("overheat/compressor", 3.0),
        ("sensor-stuck/supply_temp_c", 1.0),
        ("sensor-stuck/outdoor_temp_c", 1.0),
        ("sensor-drift/return_temp_c", 1.0),
        ("sensor-drift/outdoor_temp_c", 1.0),
        ("spike/compressor_current_a", 1.0),
        ("memory-leak/firmware", 2.0),
        ("connectivity/flapping", 2.0),
    )

    def __init__(
        self, device_id: str, clock: Clock, seed: int, environment: Environment | None = None
    ) -> None:
        super().__init__(device_id, clock, seed, environment)
        rng = self._rng
        self._utc_offset_s = 3600.0 * rng.choice((0, 1, 2))
        self._weather = Weather(
            key=derive_key(self._key, "weather"),
            mean_c=rng.uniform(0.0, 7.0),
            daily_amplitude_c=rng.uniform(3.0, 6.0),
            utc_offset_s=self._utc_offset_s,
            shift=self._front_shift if environment is not None else None,
        )
        self._ua_kw_per_k = rng.uniform(0.2, 0.32)
        self._run_s = rng.uniform(500.0, 15_000.0) * 3600.0
        self._replaced_at_run_s = 0.0
        """Run hours on the counter when the compressor was last replaced."""
        self._fouling = rng.uniform(0.0, 0.3)
        if self._new_unit:  # fresh from the factory: no hours, a clean filter
            self._run_s = 0.0
            self._fouling = 0.0
        self._limit = 1.0
        self._limit_until_s = -math.inf
        now = self._last_s
        self._supply_c = self._supply_target_c(now)
        self._compressor_c = self._compressor_target_c(now, self._speed(now))

    # -- control ------------------------------------------------------------------------

    def _dhw(self, t_s: float) -> bool:
        """Domestic hot water runs: 06:00-06:45 and 18:30-19:00 local time."""
        hour = local_hour(t_s, self._utc_offset_s)
        return 6.0 <= hour < 6.75 or 18.5 <= hour < 19.0

    def _speed(self, t_s: float) -> float:
        """Compressor speed as a fraction of full, after any load limit; 0 once a worn
        compressor has seized."""
        if self._part_failed(t_s):
            return 0.0
        if self._dhw(t_s):
            demand = 1.0
        else:
            outdoor = self._weather.outdoor_c(t_s)
            demand = self._ua_kw_per_k * (self._setpoint_c(t_s) - outdoor) / CAPACITY_KW
        speed = min(1.0, max(MIN_SPEED, demand))
        if t_s < self._limit_until_s:
            speed = min(speed, self._limit)
        return speed

    def _setpoint_c(self, t_s: float) -> float:
        """Indoor setpoint: comfort, or set back while the household is away on a holiday."""
        holiday = self._holiday(t_s, self._utc_offset_s)
        return INDOOR_SETPOINT_C if holiday is None else holiday.setpoint_c

    def _supply_target_c(self, t_s: float) -> float:
        if self._part_failed(t_s):
            return STOPPED_SUPPLY_C
        if self._dhw(t_s):
            return 55.0
        outdoor = self._weather.outdoor_c(t_s)
        return min(50.0, max(25.0, 25.0 + 0.75 * (20.0 - outdoor)))

    def _lift_k(self, t_s: float) -> float:
        """Temperature lift from evaporator (outdoor - 6 K) to condenser (supply + 5 K)."""
        return (self._supply_c + 5.0) - (self._weather.outdoor_c(t_s) - 6.0)

    def _compressor_target_c(self, t_s: float, speed: float) -> float:
        if self._part_failed(t_s):  # a stopped compressor cools to the air around it
            return self._weather.outdoor_c(t_s) + 5.0
        overheat = self._severity(FaultKind.OVERHEAT, t_s)
        return (
            35.0
            + 0.2 * self._weather.outdoor_c(t_s)
            + 30.0 * speed
            + 0.3 * self._lift_k(t_s)
            + 10.0 * self._fouling
            + OVERHEAT_EXTRA_C * overheat * (0.4 + 0.6 * speed)
            + WEAR_EXTRA_C * self._wear(t_s) * (0.5 + 0.5 * speed)
        )

    def _cop(self, t_s: float) -> float:
        """Carnot COP times a wear- and fault-dependent efficiency, clamped to [1, 6.5]."""
        condenser_k = self._supply_c + 5.0 + 273.15
        carnot = condenser_k / max(5.0, self._lift_k(t_s))
        run_h = (self._run_s - self._replaced_at_run_s) / 3600.0
        wear = max(0.5, 1.0 - ETA_LOSS_PER_RUN_H * run_h)
        fault = 1.0 - min(0.6, 0.3 * self._severity(FaultKind.OVERHEAT, t_s))
        worn = 1.0 - min(0.6, WEAR_ETA_LOSS * self._wear(t_s))
        eta = ETA_NEW * wear * (1.0 - 0.08 * self._fouling) * fault * worn
        return min(6.5, max(1.0, eta * carnot))

    # -- SimulatedDevice hooks ----------------------------------------------------------------

    def _step(self, t0_s: float, t1_s: float) -> None:
        dt = t1_s - t0_s
        speed = self._speed(t0_s)
        self._supply_c = relax(self._supply_c, self._supply_target_c(t0_s), dt, SUPPLY_TAU_S)
        target = self._compressor_target_c(t0_s, speed)
        self._compressor_c = relax(self._compressor_c, target, dt, COMPRESSOR_TAU_S)
        if speed > 0:  # a seized compressor neither runs up hours nor draws air
            self._run_s += dt
            self._fouling = min(1.0, self._fouling + dt * speed / FOULING_FULL_S)

    def _physics_readings(self, now_s: float) -> dict[str, float]:
        speed = self._speed(now_s)
        heat_kw = CAPACITY_KW * speed
        cop = self._cop(now_s)
        electrical_w = 1000.0 * heat_kw / cop
        if speed == 0.0:
            cop = 0.0  # no heat moved: a stopped compressor has no COP to report
        fan_pct = min(100.0, 30.0 + 60.0 * speed + 10.0 * self._fouling)
        pump_pct = 50.0 + 30.0 * speed
        flow_kg_s = 0.4 * pump_pct / 80.0
        auxiliary_w = (
            12.0 + 20.0 + 100.0 * (fan_pct / 100.0) ** 3 + 15.0 + 45.0 * (pump_pct / 100.0) ** 2
        )
        noise = self._noise
        return {
            "outdoor_temp_c": self._weather.outdoor_c(now_s) + noise(0.15),
            "supply_temp_c": self._supply_c + noise(0.1),
            "return_temp_c": self._supply_c
            - heat_kw / (flow_kg_s * WATER_KJ_PER_KG_K)
            + noise(0.1),
            "compressor_temp_c": self._compressor_c + noise(0.3),
            "compressor_current_a": max(0.0, electrical_w / (MAINS_V * POWER_FACTOR) + noise(0.08)),
            "compressor_speed_pct": 100.0 * speed,
            "heat_output_kw": max(0.0, heat_kw + noise(0.05)),
            "power_w": max(0.0, electrical_w + auxiliary_w + noise(12.0)),
            "cop": max(0.0, cop + noise(0.03)),
            "fan_speed_pct": fan_pct,
            "pump_speed_pct": pump_pct,
            "compressor_run_h": self._run_s / 3600.0,
        }

    def _cpu_activity_pct(self, now_s: float) -> float:
        return 14.0 + 10.0 * self._speed(now_s)

    def _model_handlers(self) -> dict[str, ActionHandler]:
        return {
            "clean_filter": self._clean_filter,
            "service_visit": self._service_visit,
            "reduce_load": self._reduce_load,
        }

    def _model_facts(self) -> dict[str, Scalar]:
        return {
            "hardware_rev": "B2",
            "capacity_kw": CAPACITY_KW,
            "refrigerant": "R32",
            "utc_offset_s": self._utc_offset_s,
        }

    # -- actions ----------------------------------------------------------------------------

    def _clean_filter(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        self._fouling = 0.0
        return "air filter cleaned"

    def _service_visit(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """A technician cleans the coil and filter, checks refrigerant, replaces sensors,
        and replaces a worn-out compressor, whose efficiency then starts afresh."""
        self._fouling = 0.0
        if self._active(FaultKind.WEAR_OUT, now_s):
            self._replaced_at_run_s = self._run_s
            return "service visit completed: compressor replaced"
        return "service visit completed"

    def _reduce_load(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """Cap compressor speed for a while: less heat in the compressor, but a cause such
        as low refrigerant stays, so an overheat is softened rather than cured."""
        fraction = number_param(params, "fraction", 0.6, MIN_SPEED, 1.0)
        duration_s = number_param(params, "duration_s", 4 * 3600.0, 60.0, 7 * SECONDS_PER_DAY)
        self._limit = fraction
        self._limit_until_s = now_s + duration_s
        return f"compressor limited to {fraction:.0%} for {duration_s:.0f} s"
