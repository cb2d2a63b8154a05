"""One device's diagnosis: from each sample to findings named by fault signature.

Three layers, strongest evidence first:
1. the model profile's hard limits (``overheat/compressor`` above the rated temperature);
2. pattern detectors that recognise a fault by its shape (``sensor-stuck/<metric>``,
   ``spike/<metric>``);
3. the learned streaming anomaly detector (the same one ``aftercare detect`` runs), whose
   most deviant metric and direction are named through the profile
   (``overheat/connector``, ``memory-leak/firmware``...), as ``sensor-drift/<metric>``
   when one metric alone wanders off steadily in one direction, or ``anomaly/<metric>``.

Pure and causal: it sees one device's samples in order and nothing else.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cloud.diagnosis.patterns import RepeatTracker, SpikeTracker
from cloud.diagnosis.profiles import Direction, ModelProfile
from cloud.incidents.tracker import Finding

DRIFT_WINDOW = 30
"""Samples of same-signed, growing deviation that make a steady drift."""


@dataclass(frozen=True)
class Contribution:
    """How far one metric is from its learned baseline (signed robust z)."""

    metric: str
    z: float
    detector: str
    baseline: float


class Assessment(Protocol):
    """What the streaming anomaly detector says about one sample."""

    @property
    def score(self) -> float: ...

    @property
    def is_anomaly(self) -> bool: ...

    @property
    def contributions(self) -> Sequence[Contribution]: ...


class StreamScorer(Protocol):
    def update(self, ts: float, metrics: Mapping[str, float]) -> Assessment: ...


class DeviceDiagnoser:
    """Findings for one device, sample by sample."""

    def __init__(self, profile: ModelProfile, scorer: StreamScorer) -> None:
        self.profile = profile
        self.scorer = scorer
        self._repeats: dict[str, RepeatTracker] = {}
        self._spikes: dict[str, SpikeTracker] = {}
        self._signed_z: dict[str, deque[float]] = {}

    def observe(self, ts: float, metrics: Mapping[str, float]) -> dict[str, Finding]:
        finite = {m: v for m, v in metrics.items() if math.isfinite(v)}
        findings: dict[str, Finding] = {}
        for limit in self.profile.limits:
            value = finite.get(limit.metric)
            if value is None:
                continue
            beyond = value > limit.value if limit.direction == "high" else value < limit.value
            if beyond:
                _keep_strongest(
                    findings,
                    Finding(
                        limit.signature,
                        1.0,
                        {
                            "detector": "limit",
                            "metric": limit.metric,
                            "value": value,
                            "limit": limit.value,
                        },
                    ),
                )
        explained = self._patterns(finite, findings)
        assessment = self.scorer.update(ts, finite)
        self._learned(assessment, explained, findings, finite)
        return findings

    def _patterns(self, metrics: Mapping[str, float], findings: dict[str, Finding]) -> set[str]:
        """Run shape detectors; returns the metrics they explain."""
        explained = set()
        for metric, value in metrics.items():
            stuck = self._repeats.setdefault(metric, RepeatTracker()).update(value)
            spikes = self._spikes.setdefault(metric, SpikeTracker()).update(value)
            if stuck > 0:
                explained.add(metric)
                _keep_strongest(
                    findings,
                    Finding(
                        f"sensor-stuck/{metric}",
                        stuck,
                        {
                            "detector": "repeat",
                            "metric": metric,
                            "value": value,
                            "repeats": self._repeats[metric].run,
                        },
                    ),
                )
            if spikes > 0:
                explained.add(metric)
                _keep_strongest(
                    findings,
                    Finding(
                        f"spike/{metric}",
                        spikes,
                        {
                            "detector": "spike",
                            "metric": metric,
                            "value": value,
                        },
                    ),
                )
        return explained

    def _learned(
        self,
        assessment: Assessment,
        explained: set[str],
        findings: dict[str, Finding],
        metrics: Mapping[str, float],
    ) -> None:
        for contribution in assessment.contributions:
            window = self._signed_z.setdefault(contribution.metric, deque(maxlen=DRIFT_WINDOW))
            window.append(contribution.z)
        if not assessment.is_anomaly:
            return
        candidates = [c for c in assessment.contributions if c.metric not in explained]
        if not candidates:
            return
        top = max(candidates, key=lambda c: abs(c.z))
        direction: Direction = "high" if top.z > 0 else "low"
        signature = self.profile.meaning.get((top.metric, direction))
        if signature is None:
            signature = (
                f"sensor-drift/{top.metric}"
                if self._drifting(top.metric)
                else f"anomaly/{top.metric}"
            )
        _keep_strongest(
            findings,
            Finding(
                signature,
                assessment.score,
                {
                    "detector": top.detector,
                    "metric": top.metric,
                    "value": metrics.get(top.metric),
                    "baseline": top.baseline,
                    "z": round(top.z, 2),
                    "direction": direction,
                    "others": {c.metric: round(c.z, 2) for c in candidates[:5] if c is not top},
                },
            ),
        )

    def _drifting(self, metric: str) -> bool:
        """One-signed deviation over the whole window, larger at its end than its start."""
        window = self._signed_z.get(metric)
        if window is None or len(window) < DRIFT_WINDOW:
            return False
        values = list(window)
        same_sign = all(v > 0 for v in values) or all(v < 0 for v in values)
        third = DRIFT_WINDOW // 3
        growing = sum(abs(v) for v in values[-third:]) > sum(abs(v) for v in values[:third])
        return same_sign and growing


def _keep_strongest(findings: dict[str, Finding], finding: Finding) -> None:
    current = findings.get(finding.signature)
    if current is None or finding.score > current.score:
        findings[finding.signature] = finding
