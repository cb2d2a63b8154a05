"""What a service engineer reads about an incident: the peak value with its unit, the
learned normal range, how long it lasted, one plain sentence, the likely cause and the
next step (pure; the advice is data per signature, like the profiles).

Units come from the metric's name, by the naming convention of the wire contract
(``compressor_temp_c``, ``current_a``, ``mem_free_kb``...): a product needs no table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_w", "W"),
    ("_dbm", "dBm"),
    ("_pct", "%"),
    ("_kb", "KiB"),
    ("_c", "°C"),
    ("_a", "A"),
    ("_v", "V"),
    ("_h", "h"),
    ("_s", "s"),
)


@dataclass(frozen=True)
class Advice:
    cause: str
    next_step: str


ADVICE: Mapping[str, Advice] = {
    "overheat/compressor": Advice(
        "restricted airflow (a clogged filter) or low refrigerant",
        "clean the air filter and reduce the load; book a service visit if it stays hot",
    ),
    "overheat/connector": Advice(
        "a loose or worn charging connector",
        "reset the connector and derate the current; inspect the plug if it recurs",
    ),
    "memory-leak/firmware": Advice(
        "a firmware component that does not release memory",
        "restart the firmware; report the build to the firmware team",
    ),
    "connectivity/flapping": Advice(
        "a weak or unstable network link",
        "reset the radio; check the signal strength where the device is installed",
    ),
    "sensor-stuck": Advice(
        "a frozen sensor or a dead sensor input",
        "recalibrate the sensor; replace it at the next service visit if it stays frozen",
    ),
    "spike": Advice(
        "a loose sensor wire or electrical interference",
        "recalibrate the sensor and check its wiring",
    ),
    "sensor-drift": Advice(
        "a sensor drifting out of calibration, or a slow change in the installation",
        "recalibrate the sensor; compare with a reference reading if it persists",
    ),
    "anomaly": Advice(
        "behaviour this device has not shown before",
        "check the device's recent changes (settings, firmware, installation)",
    ),
}
"""Keyed by full signature first, then by its kind (the part before the slash)."""


def unit_of(metric: str) -> str:
    for suffix, unit in UNIT_SUFFIXES:
        if metric.endswith(suffix):
            return unit
    return ""


def label_of(metric: str) -> str:
    """``compressor_current_a`` -> ``Compressor current``: the name without its unit."""
    for suffix, _ in UNIT_SUFFIXES:
        if metric.endswith(suffix):
            metric = metric[: -len(suffix)]
            break
    return metric.replace("_", " ").capitalize()


def advice_for(signature: str) -> Advice:
    kind = signature.partition("/")[0]
    return ADVICE.get(signature) or ADVICE.get(kind) or ADVICE["anomaly"]


def narrate(
    signature: str,
    evidence: Mapping[str, object],
    since: float,
    until: float,
    occurrences: int,
) -> dict[str, object]:
    """The incident's explanation: ``evidence`` (the most deviant finding while it built
    up: detector, metric, value, normal range...) plus duration, sentence and advice."""
    metric = str(evidence.get("metric") or "")
    unit = unit_of(metric)
    duration_s = max(0.0, until - since)
    advice = advice_for(signature)
    explained: dict[str, object] = {
        **evidence,
        "unit": unit,
        "since": since,
        "duration_s": round(duration_s, 1),
        "occurrences": occurrences,
        "summary": sentence(signature, evidence, unit, duration_s, occurrences),
        "likely_cause": advice.cause,
        "next_step": advice.next_step,
    }
    value = evidence.get("value")
    if isinstance(value, float | int):
        explained["peak_value"] = value
    return explained


def sentence(
    signature: str,
    evidence: Mapping[str, object],
    unit: str,
    duration_s: float,
    occurrences: int,
) -> str:
    kind = signature.partition("/")[0]
    metric = str(evidence.get("metric") or "")
    name = label_of(metric) or "The device"
    value = _number(evidence.get("value"), unit)
    normal = _normal(evidence, unit)
    lasting = _duration(duration_s)
    detector = evidence.get("detector")
    if kind == "connectivity":
        drops = evidence.get("drops_last_hour", occurrences)
        return f"The device's connection dropped {drops} times within an hour."
    if detector == "limit":
        limit = _number(evidence.get("limit"), unit)
        return f"{name} reached {value}, beyond the rated limit of {limit}."
    if kind == "sensor-stuck":
        repeats = evidence.get("repeats")
        held = f"{repeats} readings in a row" if isinstance(repeats, int) else lasting
        return f"{name} has read exactly {value} for {held}{normal}."
    if kind == "spike":
        spikes = evidence.get("spikes")
        count = spikes if isinstance(spikes, int) and spikes > 0 else occurrences
        return f"{name} spiked to {value} {_times(count)} within {lasting}{normal}."
    if detector == "trend":
        return f"{name} has been moving steadily for {lasting}, now at {value}{normal}."
    if detector in ("relation", "fleet") and isinstance(evidence.get("expected"), float | int):
        expected = _number(evidence.get("expected"), unit)
        return (
            f"{name} reached {value} where devices like it read about {expected} in the "
            f"same conditions, for {lasting}{normal}."
        )
    if _inside(evidence):
        return (
            f"{name} has been unusual for the time of day for {lasting}, at {value}"
            f"{normal.replace('; normal is', ' (its usual range is')}{')' if normal else ''}."
        )
    return f"{name} has been off its usual level for {lasting}, reaching {value}{normal}."


def _inside(evidence: Mapping[str, object]) -> bool:
    value, low, high = (evidence.get(k) for k in ("value", "normal_low", "normal_high"))
    numbers = all(isinstance(x, float | int) for x in (value, low, high))
    return numbers and float(low) <= float(value) <= float(high)  # type: ignore[arg-type]


def _number(value: object, unit: str) -> str:
    if not isinstance(value, float | int) or not math.isfinite(value):
        return "an unknown value"
    magnitude = abs(float(value))
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    text = f"{float(value):.{digits}f}"
    return f"{text} {unit}" if unit and unit != "%" else f"{text}{unit}"


def _normal(evidence: Mapping[str, object], unit: str) -> str:
    low, high = evidence.get("normal_low"), evidence.get("normal_high")
    if not isinstance(low, float | int) or not isinstance(high, float | int):
        return ""
    return f"; normal is {_number(low, unit)} to {_number(high, unit)}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86_400:.1f} days"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")
