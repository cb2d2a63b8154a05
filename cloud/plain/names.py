"""Owner-facing names for product models, fault signatures and fix actions, as data.

Each table has a fallback, so a new model, signature or playbook action reads as
"your device", "a problem" or "sent it a fix" until someone gives it words; nothing
ever falls through to the raw identifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Problem", "action_words", "device_name", "problem_of"]

MODEL_NAMES: Mapping[str, str] = {
    "heatpump": "heat pump",
    "evcharger": "EV charger",
}
"""By the model id's family (the part before the first dash: ``heatpump-hp200``)."""

GENERIC_DEVICE = "device"


def device_name(model: str | None) -> str:
    """``heatpump-hp200`` -> ``heat pump``; an unknown or missing model -> ``device``."""
    if not model:
        return GENERIC_DEVICE
    return MODEL_NAMES.get(model.partition("-")[0].lower(), GENERIC_DEVICE)


@dataclass(frozen=True)
class Problem:
    """A fault as an owner would say it: ``noun`` after "we noticed" or "fixed"
    (``a sensor glitch``), ``ongoing`` after "your heat pump" (``is overheating``)."""

    noun: str
    ongoing: str


PROBLEMS: Mapping[str, Problem] = {
    "overheat/compressor": Problem("an overheating compressor", "is overheating"),
    "overheat/connector": Problem("an overheating charging plug", "is overheating"),
    "memory-leak/firmware": Problem("a memory leak in its software", "has a memory leak"),
    "connectivity/flapping": Problem("a flaky connection", "keeps losing its connection"),
    "wear-out/compressor": Problem("a worn compressor", "has a compressor wearing out"),
    "wear-out/connector": Problem("a worn charging plug", "has a charging plug wearing out"),
}
"""Full signatures first; then :data:`KINDS` by the part before the slash."""

KINDS: Mapping[str, Problem] = {
    "overheat": Problem("overheating", "is overheating"),
    "sensor-stuck": Problem("a sensor glitch", "has a sensor glitch"),
    "spike": Problem("a sensor glitch", "has a sensor glitch"),
    "sensor-drift": Problem("a sensor out of calibration", "has a sensor out of calibration"),
    "memory-leak": Problem("a memory leak in its software", "has a memory leak"),
    "connectivity": Problem("a flaky connection", "keeps losing its connection"),
    "wear-out": Problem("a worn part", "has a part wearing out"),
    "anomaly": Problem("unusual behaviour", "is behaving unusually"),
}

UNKNOWN_PROBLEM = Problem("a problem", "has a problem")


def problem_of(signature: str) -> Problem:
    """The owner's words for ``signature``; a sensible generic phrase for unknown ones."""
    found = PROBLEMS.get(signature) or KINDS.get(signature.partition("/")[0])
    return found or UNKNOWN_PROBLEM


ACTIONS: Mapping[str, str] = {
    "restart_firmware": "restarted its software",
    "reset_radio": "reset its radio",
    "recalibrate_sensor": "recalibrated its sensors",
    "reset_connector": "reset its charging plug",
    "reduce_load": "eased its workload for a while",
    "clean_filter": "ran its filter-cleaning cycle",
}
"""Playbook actions in the past tense, after "we"."""

UNKNOWN_ACTION = "sent it a fix"


def action_words(action: str) -> str:
    """``reset_radio`` -> ``reset its radio``; an unknown action -> ``sent it a fix``."""
    return ACTIONS.get(action, UNKNOWN_ACTION)
