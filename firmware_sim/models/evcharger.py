"""A single-phase home EV charger (``evcharger-ec11``).

- Cars arrive on plausible schedules, a pure function of (device key, local day): most
  evenings between 17:00 and 21:00 staying overnight, some late mornings for a few hours.
  Each session wants 5-40 kWh; the charger delivers its current limit (16 or 32 A) and
  the car tapers over the last 1.5 kWh, then idles until it leaves.
- The grid voltage sags in the evening peak and under the charger's own load.
- The connector heats by I²R of its contact resistance with a 15-minute thermal time
  constant above an enclosure slightly warmer than the outdoor air. Contact resistance
  wears up with every plug-in (mating cycle).

An ``overheat/connector`` fault (a loose or corroded contact) multiplies the contact
resistance, building up over half an hour, so the connector climbs while charging and
cools when idle.

A ``wear-out/connector`` fault (pitting and fretting of the contacts) raises the contact
resistance along an accelerating path: the connector runs a little hotter per A² week
by week, then fast. When the contacts give out the charger stops charging (a car still
plugs in, no current flows) until a service visit replaces them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
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
from firmware_sim.models.signals import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Weather,
    derive_key,
    local_day,
    local_hour,
    relax,
    smooth_noise,
    unit,
)

NOMINAL_V = 230.0
LINE_OHM = 0.06
MIN_CURRENT_A = 6.0
"""IEC 61851 lowest signalled charging current."""
CONTACT_MOHM_NEW = 2.5
CONTACT_WEAR_PER_CYCLE = 4.0e-4
THERMAL_K_PER_W = 8.0
CONNECTOR_TAU_S = 900.0
TAPER_KWH = 1.5
WEAR_CONTACT_GAIN = 1.5
"""Worn contacts at failure have (1 + this) times their resistance (magnitude 1)."""


@dataclass(frozen=True)
class Session:
    """A car plugged in from ``arrival_s`` to ``departure_s`` wanting ``need_kwh``."""

    arrival_s: float
    departure_s: float
    need_kwh: float


class EvCharger(SimulatedDevice):
    """Simulated ``evcharger-ec11``; see the module docstring for the physics."""

    MODEL: ClassVar[str] = "evcharger-ec11"
    FIRMWARE: ClassVar[str] = "1.9.3"
    OVERHEAT_COMPONENT: ClassVar[str] = "connector"
    WEAR_COMPONENT: ClassVar[str] = "connector"
    HEAP_KB: ClassVar[float] = 1024.0
    METRICS: ClassVar[Mapping[str, MetricSpec]] = {
        "voltage_v": MetricSpec("V", 207.0, 253.0, 1.5),
        "current_a": MetricSpec("A", 0.0, 33.0, 1.0),
        "current_limit_a": MetricSpec("A", 6.0, 32.0, 2.0),
        "power_kw": MetricSpec("kW", 0.0, 8.0, 0.3),
        "connector_temp_c": MetricSpec("°C", -30.0, 70.0, 1.5),
        "session_energy_kwh": MetricSpec("kWh", 0.0, 45.0, 1.0),
        "energy_total_kwh": MetricSpec("kWh", 0.0, 1.0e6, 1.0),
        "vehicle_connected": MetricSpec("", 0.0, 1.0, 1.0),
        **FIRMWARE_METRICS,
    }
    SETUP_FAILURES: ClassVar[Mapping[str, str]] = {
        "placement": "no protective earth detected: charging is disabled",
    }
    FAULT_MENU: ClassVar[tuple[tuple[str, float], ...]] = (
        ("overheat/connector", 3.0),
        ("sensor-stuck/connector_temp_c", 1.0),
        ("sensor-drift/voltage_v", 1.0),
        ("spike/current_a", 1.0),
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
            mean_c=rng.uniform(2.0, 14.0),
            daily_amplitude_c=rng.uniform(3.0, 7.0),
            utc_offset_s=self._utc_offset_s,
            shift=self._front_shift if environment is not None else None,
        )
        self._max_current_a = rng.choice((16.0, 32.0))
        self._mating_cycles = rng.randint(50, 1500)
        self._energy_total_kwh = rng.uniform(500.0, 20_000.0)
        if self._new_unit:  # fresh from the factory: new contacts, empty meter
            self._mating_cycles = 0
            self._energy_total_kwh = 0.0
        self._session: Session | None = None
        self._sessions_by_day: dict[int, list[Session]] = {}
        self._delivered_kwh = 0.0
        self._derate_a = self._max_current_a
        self._derate_until_s = -math.inf
        self._connector_c = self._ambient_c(self._last_s)

    # -- schedule and electrics -------------------------------------------------------------

    def _sessions_of_day(self, day: int) -> list[Session]:
        """The plug-ins that begin on local ``day``; drawn from the device key alone, and
        remembered for the few days around the present."""
        cached = self._sessions_by_day.get(day)
        if cached is not None:
            return cached
        if len(self._sessions_by_day) > 4:
            self._sessions_by_day.clear()
        sessions = self._draw_sessions(day)
        self._sessions_by_day[day] = sessions
        return sessions

    def _draw_sessions(self, day: int) -> list[Session]:
        """A holiday the household spends away has no plug-ins: the car is away too."""
        midnight_s = day * SECONDS_PER_DAY - self._utc_offset_s
        sessions: list[Session] = []
        if self._holiday(midnight_s + SECONDS_PER_DAY / 2, self._utc_offset_s) is not None:
            return sessions
        u = [unit(self._key, day, i) for i in range(8)]
        if u[0] < 0.25:  # late morning top-up, gone before the evening
            arrival = midnight_s + (9.0 + 4.0 * u[1]) * SECONDS_PER_HOUR
            departure = min(arrival + (1.0 + 3.0 * u[2]) * 3600.0, midnight_s + 16.5 * 3600.0)
            sessions.append(Session(arrival, departure, 5.0 + 15.0 * u[3]))
        if u[4] < 0.7:  # evening arrival, overnight stay
            arrival = midnight_s + (17.0 + 4.0 * u[5]) * SECONDS_PER_HOUR
            departure = midnight_s + SECONDS_PER_DAY + (6.5 + 1.5 * u[6]) * SECONDS_PER_HOUR
            sessions.append(Session(arrival, departure, 8.0 + 32.0 * u[7]))
        return sessions

    def _session_at(self, t_s: float) -> Session | None:
        today = local_day(t_s, self._utc_offset_s)
        for day in (today - 1, today):
            for session in self._sessions_of_day(day):
                if session.arrival_s <= t_s < session.departure_s:
                    return session
        return None

    def _limit_a(self, t_s: float) -> float:
        return self._derate_a if t_s < self._derate_until_s else self._max_current_a

    def _delivered_kwh_of(self, session: Session) -> float:
        """Energy given to ``session`` so far; a plug-in the integration has not reached
        yet (it began within the last step) has had none."""
        return self._delivered_kwh if session == self._session else 0.0

    def _current_a(self, t_s: float) -> float:
        """Charging current of the car plugged in now (0 when none, full, or when the
        contacts have given out)."""
        session = self._session_at(t_s)
        if session is None or self._part_failed(t_s):
            return 0.0
        remaining_kwh = session.need_kwh - self._delivered_kwh_of(session)
        if remaining_kwh <= 0:
            return 0.0
        return self._limit_a(t_s) * min(1.0, max(0.15, remaining_kwh / TAPER_KWH))

    def _voltage_v(self, t_s: float, current_a: float) -> float:
        hour = local_hour(t_s, self._utc_offset_s)
        evening_sag = 4.0 * math.exp(-(((hour - 19.0) / 2.0) ** 2))
        wander = 2.5 * smooth_noise(self._key ^ 0x7011, t_s, 2 * SECONDS_PER_HOUR)
        return NOMINAL_V + wander - evening_sag - LINE_OHM * current_a

    def _ambient_c(self, t_s: float) -> float:
        return self._weather.outdoor_c(t_s) + 4.0

    def _contact_mohm(self, t_s: float) -> float:
        wear = 1.0 + CONTACT_WEAR_PER_CYCLE * self._mating_cycles
        fault = 1.0 + 3.0 * self._severity(FaultKind.OVERHEAT, t_s)
        worn = 1.0 + WEAR_CONTACT_GAIN * self._wear(t_s)
        return CONTACT_MOHM_NEW * wear * fault * worn

    # -- SimulatedDevice hooks ----------------------------------------------------------------

    def _step(self, t0_s: float, t1_s: float) -> None:
        dt = t1_s - t0_s
        session = self._session_at(t0_s)
        if session != self._session:
            if session is not None:
                self._mating_cycles += 1
            self._session = session
            self._delivered_kwh = 0.0
        current_a = self._current_a(t0_s)
        if session is not None and current_a > 0:
            energy_kwh = self._voltage_v(t0_s, current_a) * current_a * dt / 3.6e6
            energy_kwh = min(energy_kwh, session.need_kwh - self._delivered_kwh)
            self._delivered_kwh += energy_kwh
            self._energy_total_kwh += energy_kwh
        heat_w = current_a**2 * self._contact_mohm(t0_s) / 1000.0
        target_c = self._ambient_c(t0_s) + THERMAL_K_PER_W * heat_w
        self._connector_c = relax(self._connector_c, target_c, dt, CONNECTOR_TAU_S)

    def _physics_readings(self, now_s: float) -> dict[str, float]:
        current_a = self._current_a(now_s)
        measured_a = max(0.0, current_a + self._noise(0.05)) if current_a > 0 else 0.0
        voltage_v = self._voltage_v(now_s, current_a) + self._noise(0.4)
        session = self._session_at(now_s)
        return {
            "voltage_v": voltage_v,
            "current_a": measured_a,
            "current_limit_a": self._limit_a(now_s),
            "power_kw": voltage_v * measured_a / 1000.0,
            "connector_temp_c": self._connector_c + self._noise(0.2),
            "session_energy_kwh": 0.0 if session is None else self._delivered_kwh_of(session),
            "energy_total_kwh": self._energy_total_kwh,
            "vehicle_connected": 0.0 if session is None else 1.0,
        }

    def _cpu_activity_pct(self, now_s: float) -> float:
        return 7.0 + (9.0 if self._current_a(now_s) > 0 else 0.0)

    def _model_handlers(self) -> dict[str, ActionHandler]:
        return {
            "reset_connector": self._reset_connector,
            "derate_current": self._derate_current,
            "reduce_load": self._reduce_load,
            "service_visit": self._service_visit,
        }

    def _model_facts(self) -> dict[str, Scalar]:
        return {
            "hardware_rev": "C1",
            "max_current_a": self._max_current_a,
            "phases": 1,
            "connector": "IEC 62196 Type 2",
            "utc_offset_s": self._utc_offset_s,
        }

    # -- actions ----------------------------------------------------------------------------

    def _reset_connector(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """Re-seats the contactor and re-runs the contact check; a charging car carries on."""
        return "connector reset"

    def _derate_current(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """Lower the signalled current: I²R heating falls with the square of the current,
        but the bad contact stays, so an overheat is softened, not cured."""
        limit_a = number_param(
            params, "max_current_a", self._max_current_a / 2, MIN_CURRENT_A, self._max_current_a
        )
        duration_s = number_param(params, "duration_s", SECONDS_PER_DAY, 60.0, 30 * SECONDS_PER_DAY)
        self._derate_a = limit_a
        self._derate_until_s = now_s + duration_s
        return f"current limited to {limit_a:.0f} A for {duration_s:.0f} s"

    def _reduce_load(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """The generic load reduction: a derate to ``fraction`` of the maximum current."""
        fraction = number_param(params, "fraction", 0.5, MIN_CURRENT_A / self._max_current_a, 1.0)
        return self._derate_current(
            now_s,
            {"max_current_a": self._max_current_a * fraction, **_only(params, "duration_s")},
        )

    def _service_visit(self, now_s: float, params: Mapping[str, Scalar]) -> str:
        """A technician replaces the connector contacts: contact wear starts afresh."""
        self._mating_cycles = 0
        return "service visit completed: connector contacts replaced"


def _only(params: Mapping[str, Scalar], *names: str) -> dict[str, Scalar]:
    return {name: params[name] for name in names if name in params}
