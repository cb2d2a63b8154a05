"""Learning from a service engineer's verdict (pure).

A false positive must not come back: the same benign pattern on the same device would
score the same, so the device's signature now needs evidence stronger than that peak to
open an incident. Where the peak was already certain (a shape detector scores 1.0 on
what it recognised) a higher bar cannot help, so the detector that fired is muted for
that device and signature instead. Hard limits are the manufacturer's specification and
are never muted: beyond one is a fault, or the sensor is lying, which is a fault too.
AWS IoT ML Detect records such verdicts; here they change what detection does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from cloud.incidents.tracker import Finding

SATURATED = 0.99
"""A peak at or above this is certainty: no higher bar exists to set."""
NEVER_MUTED = frozenset({"limit"})


@dataclass(frozen=True)
class Tuning:
    """What one false positive changed for one device and signature."""

    device_id: str
    signature: str
    min_score: float
    """Findings must score above this to count."""
    muted_detector: str | None
    incident_id: int

    def describe(self) -> str:
        if self.muted_detector is not None:
            return (
                f"the {self.muted_detector} detector no longer opens {self.signature} on "
                f"{self.device_id} (false positive, incident {self.incident_id})"
            )
        return (
            f"{self.signature} on {self.device_id} now needs a score above "
            f"{self.min_score:.2f} to open (false positive, incident {self.incident_id})"
        )


def after_false_positive(
    device_id: str, signature: str, peak_score: float, detector: str | None, incident_id: int
) -> Tuning | None:
    """The tuning a false positive leaves, or None where nothing may change (a limit)."""
    if detector in NEVER_MUTED:
        return None
    if peak_score >= SATURATED and detector:
        return Tuning(device_id, signature, 0.0, detector, incident_id)
    return Tuning(device_id, signature, min(peak_score, 1.0), None, incident_id)


def apply_tunings(
    findings: Mapping[str, Finding], tunings: Mapping[str, list[Tuning]]
) -> dict[str, Finding]:
    """The findings that still count under a device's tunings (by signature); those that
    count are marked with what was tuned, so an incident that opens anyway says so."""
    kept: dict[str, Finding] = {}
    for signature, finding in findings.items():
        rules = tunings.get(signature)
        if not rules:
            kept[signature] = finding
            continue
        detector = finding.explanation.get("detector")
        if any(
            rule.muted_detector is not None and rule.muted_detector == detector for rule in rules
        ):
            continue
        bar = max(rule.min_score for rule in rules)
        if finding.score <= bar:
            continue
        note = {"tuned": [rule.describe() for rule in rules]}
        kept[signature] = dataclasses.replace(finding, explanation={**finding.explanation, **note})
    return kept
