"""One device's diagnosis: from each sample to findings named by fault signature.

Three layers, strongest evidence first:
1. the model profile's hard limits (``overheat/compressor`` above the rated temperature);
2. pattern detectors that recognise a fault by its shape (``sensor-stuck/<metric>``,
   ``spike/<metric>``);
3. the learned streaming anomaly detector (the same one ``aftercare detect`` runs), whose
   most deviant metric and direction are named through the profile
   (``overheat/connector``, ``memory-leak/firmware``...), as ``sensor-drift/<metric>``
   when it is the detector's slow drift view that fires, or else ``anomaly/<metric>``.

Pure and causal: it sees one device's samples in order and nothing else.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from cloud.detect import AlertPolicy, Assessment, MonitorConfig, StreamMonitor
from cloud.detect.tail import MAX_SURPRISE
from cloud.diagnosis.patterns import CounterTracker, RepeatTracker, SpikeTracker
from cloud.diagnosis.profiles import Direction, ModelProfile
from cloud.incidents.tracker import Finding

FLAP_WINDOW_S = 3600.0
FLAPS = 3
"""Drops within the window that make a flapping link rather than bad luck."""
EXTRA_SURPRISE = 1.0
"""A device is judged on every metric at every sample, so the per-test bar is raised by
log10(#metrics) (Bonferroni) plus this much, for about one false alarm in several
device-months at a one-minute telemetry interval."""


def device_monitor_config(metric_count: int) -> MonitorConfig:
    """Per device, one metric at a time; relationships between metrics are the fleet
    model's job, which learns them from many devices instead of one device's first hours."""
    base = AlertPolicy()
    raise_by = math.log10(max(1, metric_count)) + EXTRA_SURPRISE
    policy = AlertPolicy(
        threshold=base.threshold + raise_by,
        release=base.release + raise_by,
        state_threshold=base.state_threshold + raise_by,
        state_release=base.state_release + raise_by,
    )
    return MonitorConfig(multivariate=False, policy=policy)


class DeviceDiagnoser:
    """Findings for one device, sample by sample."""

    def __init__(self, profile: ModelProfile) -> None:
        self.profile = profile
        self.monitor: StreamMonitor | None = None
        self._repeats: dict[str, RepeatTracker] = {}
        self._spikes: dict[str, SpikeTracker] = {}
        self._counters: dict[str, CounterTracker] = {}
        self._drops: deque[float] = deque(maxlen=64)

    def observe_link(self, at: float, online: bool) -> None:
        """Presence as the broker reports it: each unplanned drop (Last Will) counts."""
        if not online:
            self._drops.append(at)

    def _link_finding(self, ts: float, findings: dict[str, Finding]) -> None:
        recent = sum(1 for at in self._drops if ts - FLAP_WINDOW_S <= at <= ts)
        if recent:
            _keep_strongest(
                findings,
                Finding(
                    "connectivity/flapping",
                    min(1.0, recent / FLAPS),
                    {
                        "detector": "presence",
                        "drops_last_hour": recent,
                    },
                ),
            )

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
        self._link_finding(ts, findings)
        if self.monitor is None:
            self.monitor = StreamMonitor(config=device_monitor_config(len(finite)))
        views = {}
        for metric, value in finite.items():
            view = self._counters.setdefault(metric, CounterTracker()).view(value)
            if view is not None:
                views[metric] = view
        assessment = self.monitor.update(ts, views)
        self._learned(assessment, explained, findings, finite)
        return findings

    def _patterns(self, metrics: Mapping[str, float], findings: dict[str, Finding]) -> set[str]:
        """Run shape detectors; returns the metrics they explain."""
        explained = set()
        jumps = {
            m: self._spikes.setdefault(m, SpikeTracker()).observe(v) for m, v in metrics.items()
        }
        lone_jump = sum(jumps.values()) == 1  # several at once: physics, not a sensor
        for metric, value in metrics.items():
            spikes = self._spikes[metric].record(jumps[metric] and lone_jump)
            counter = self._counters.get(metric)
            stuck = self._repeats.setdefault(metric, RepeatTracker()).update(value)
            if stuck > 0 and not (counter is not None and counter.is_counter):
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
        if not assessment.is_anomaly:
            return
        candidates = [
            c for c in assessment.contributions if c.metric not in explained and c.metric != "*"
        ]
        if not candidates:
            return
        top = max(candidates, key=lambda c: abs(c.z))
        direction: Direction = "high" if top.z > 0 else "low"
        signature = self.profile.meaning.get((top.metric, direction))
        if signature is None:
            kind = "sensor-drift" if top.detector == "drift" else "anomaly"
            signature = f"{kind}/{top.metric}"
        _keep_strongest(
            findings,
            Finding(
                signature,
                max(0.5, min(1.0, assessment.surprise / MAX_SURPRISE)),
                {
                    "detector": top.detector,
                    "surprise": round(top.surprise, 2),
                    "metric": top.metric,
                    "value": metrics.get(top.metric),
                    "baseline": top.baseline,
                    "z": round(top.z, 2),
                    "direction": direction,
                    "others": {c.metric: round(c.z, 2) for c in candidates[:5] if c is not top},
                },
            ),
        )


def _keep_strongest(findings: dict[str, Finding], finding: Finding) -> None:
    current = findings.get(finding.signature)
    if current is None or finding.score > current.score:
        findings[finding.signature] = finding
