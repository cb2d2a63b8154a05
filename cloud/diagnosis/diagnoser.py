"""One device's diagnosis: from each sample to findings named by fault signature.

Layers, strongest evidence first:
1. the model profile's hard limits (``overheat/compressor`` above the rated temperature);
2. detectors that recognise a fault by its shape: a frozen reading
   (``sensor-stuck/<metric>``), isolated spikes (``spike/<metric>``), an unusually steady
   trend, and a link that keeps dropping (``connectivity/flapping``);
3. learned detectors: the device's own streaming baselines (the detector ``aftercare
   detect`` runs) and, once trained, the fleet model of the device's product model, which
   knows how its metrics move together. A baseline deviation counts only where the fleet
   model, when there is one, finds the sample at least unusual: a device's first day
   holds its rarer states (a 32 A charge, a cold snap, a holiday set-back) too seldom for
   its baselines, while many devices' history holds them all.

A deviant metric and its direction are named through the profile (a hot compressor is
``overheat/compressor``, falling free memory ``memory-leak/firmware``); a steady trend
otherwise is ``sensor-drift/<metric>``, anything else ``anomaly/<metric>``.

Pure and causal: it sees one device's samples in order and nothing else.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from cloud.detect import AlertPolicy, Assessment, MonitorConfig, StreamMonitor
from cloud.detect.tail import MAX_SURPRISE
from cloud.diagnosis.patterns import TrendTracker
from cloud.diagnosis.profiles import Direction, ModelProfile
from cloud.diagnosis.shapes import BatchShapes, ShapeBank
from cloud.incidents.tracker import Finding
from cloud.learning import FleetModel, FleetScores

FLAP_WINDOW_S = 3600.0
FLAPS = 3
"""Drops within the window that make a flapping link rather than bad luck."""
DRIFT_STREAK = 10
"""Anomalous samples in a row on one metric in one direction: the baseline would have
followed a step by then, so the metric keeps wandering off: a drift."""
LEARNING_PERIOD_S = 86_400.0
"""Device time before the learned baselines may name a fault: what a device does once a
day (a hot-water run, an evening charge) is new to it until it has lived a whole day.
Limits and shapes need no such wait."""
EXTRA_SURPRISE = 1.0
"""A device is judged on every metric at every sample, so the per-test bar is raised by
log10(#metrics) (Bonferroni) plus this much, for about one false alarm in several
device-months at a one-minute telemetry interval."""

WINDOW_VIEWS = frozenset({"burst", "drift"})
"""Baseline views that judge a window of recent readings rather than the reading itself."""

FleetModelSource = Callable[[], FleetModel | None]


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


def _no_fleet_model() -> FleetModel | None:
    return None


class DeviceDiagnoser:
    """Findings for one device, sample by sample."""

    _held: frozenset[str] = frozenset()
    """Metrics a suspected fault is about: judged, but not learned from. Set by the
    caller before each batch from the tracker, so never checkpointed."""
    _suspected: frozenset[str] = frozenset()
    """The suspected signatures themselves (set with :attr:`_held`): a metric suspected
    of drifting stays ``sensor-drift/<metric>`` whichever way it deviates next, so one
    drift stays one incident."""

    def __init__(
        self, profile: ModelProfile, fleet_model: FleetModelSource = _no_fleet_model
    ) -> None:
        self.profile = profile
        self.fleet_model = fleet_model
        self.monitor: StreamMonitor | None = None
        self._alert_surprise = math.inf
        self._shapes = ShapeBank()
        self._trends: defaultdict[str, TrendTracker] = defaultdict(TrendTracker)
        self._drops: deque[float] = deque(maxlen=64)
        self._link_judged_at = float("-inf")
        self._last_counts: dict[str, float] = {}
        """Each counter's latest reading: a fall means the device restarted."""
        """The sample the drops were last counted at: later drops are new evidence."""
        self._first_ts: float | None = None
        self._firmware: str | None = None
        self._trend_metrics = {metric for metric, _ in profile.trends}
        """Trends are watched only where the profile says what one means: a physical
        metric's slopes follow weather and usage over weeks, more than a device's first
        hours can teach, so elsewhere a steep slope is no evidence of a fault."""
        self._streaks: dict[str, tuple[str, deque[float]]] = {}
        """Per learned source: the metric it found most deviant lately, and its signed
        deviations on the anomalous samples in a row since."""

    def hold(self, signatures: Iterable[str]) -> None:
        """Stop learning what is normal for the metrics these signatures (the device's
        open incidents, and those building up to one) are about, until they are no longer
        passed. A fault that lasts would otherwise become the device's new normal within
        hours: a drifting sensor or a compressor running hot would no longer be found, the
        incident would close with the fault still there, and a fix that did nothing would
        look verified."""
        self._suspected = frozenset(signatures)
        self._held = frozenset(
            metric for signature in self._suspected for metric in self._metrics_of(signature)
        )

    def _metrics_of(self, signature: str) -> set[str]:
        """The metrics whose deviation the profile names ``signature``, or the metric a
        ``kind/metric`` signature names."""
        metrics = {m for (m, _), meant in self.profile.meaning.items() if meant == signature}
        metrics |= {limit.metric for limit in self.profile.limits if limit.signature == signature}
        _, _, named = signature.partition("/")
        if named in self._shapes.metrics:
            metrics.add(named)
        return metrics

    def observe_firmware(self, version: str, at: float) -> None:
        """The firmware the device reports. A new version is a new normal (control
        loops, memory use, CPU load all move with it), so what the learned detectors
        know is dropped and their learning period starts again at ``at``, and slopes are
        measured afresh (what is usual for a slope is kept); limits and the other shape
        detectors keep watching throughout.
        Without this, the step a rollout puts into free memory reads as a leak on every
        updated device."""
        if self._firmware is not None and version != self._firmware:
            self.monitor = None
            self._first_ts = at
            self._shapes.forget_bands()
            self._streaks.clear()
            for trend in self._trends.values():  # a one-off step across it is no trend
                trend.restart_window()
        self._firmware = version

    def observe_link(self, at: float, online: bool) -> None:
        """Presence as the broker reports it: each unplanned drop (Last Will) counts."""
        if not online:
            self._drops.append(at)

    def observe(self, ts: float, metrics: Mapping[str, float]) -> dict[str, Finding]:
        """Judge one sample (then learn from it); returns findings by signature."""
        return self.observe_many([(ts, metrics)])[0]

    def observe_many(
        self, samples: Sequence[tuple[float, Mapping[str, float]]]
    ) -> list[dict[str, Finding]]:
        """Judge a run of this device's samples in order: the per-metric detectors, the
        learned baselines and the fleet model each in one pass over the batch; the same
        findings as calling :meth:`observe` for each sample."""
        if not samples:
            return []
        names, raw = _readings(samples)
        rows = _Rows(names, raw)
        columns = self._shapes.columns(names)
        column = dict(zip(names, columns, strict=True))
        if columns == list(range(len(self._shapes.metrics))):
            values = raw.copy()  # the usual batch: every metric the device ever sent
        else:
            values = np.full((len(samples), len(self._shapes.metrics)), np.nan)
            values[:, columns] = raw
        counters = self._shapes.counters()  # as the batch begins, like the detectors
        shapes = self._shapes.observe(values, self._held)
        if self.monitor is None:
            config = device_monitor_config(int(np.count_nonzero(~np.isnan(raw[0]))))
            self.monitor = StreamMonitor(config=config)
            self._alert_surprise = config.policy.threshold
        assessments = self.monitor.update_columns(
            [ts for ts, _ in samples], self._shapes.metrics, shapes.view, self._held
        )
        model = self.fleet_model()
        fleet_scores = None
        if model is not None:  # counters leave the fleet model's range as they grow
            fleet_scores = model.score_many(model.matrix_from_columns(names, raw, counters))
        explained_by_shape = (shapes.stuck > 0) | (shapes.spike > 0)
        shaped = _by_sample(explained_by_shape)
        restarts = self._restarts(values, counters, column)
        trends = self._trend_surprises(shapes, explained_by_shape, column, restarts)
        steep = _by_sample_of(trends, self._alert_surprise)
        beyond = self._beyond_limits(raw, names)
        any_beyond: list[bool] = np.logical_or.reduce(beyond, axis=1).tolist()
        fleet_score = None if fleet_scores is None else fleet_scores.score.tolist()
        relation_best = (
            [0.0] * len(samples)
            if fleet_scores is None
            else fleet_scores.loo_surprise.max(axis=1).tolist()
        )
        ordinary = 10.0**-self.monitor.config.policy.release
        normal = ~np.isnan(values)
        results = []
        for index, (ts, _) in enumerate(samples):
            assessment = assessments[index]
            findings: dict[str, Finding] = {}
            if any_beyond[index]:
                self._limits(beyond[index], index, rows, findings)
            self._link(ts, findings)
            explained = self._shape_findings(
                shapes, index, shaped.get(index, ()), rows, steep.get(index, ()), findings
            )
            if self._first_ts is None:
                self._first_ts = ts
            if ts - self._first_ts >= LEARNING_PERIOD_S:
                tail = 0.0 if fleet_score is None else 1.0 - float(fleet_score[index])
                if tail > ordinary:
                    # The fleet finds this sample ordinary: the device's own baselines
                    # deviate because it is in a state its short history holds rarely
                    # (a charging session, a cold snap), not because something broke.
                    # Unless a detector that knows the fault's own shape names the same
                    # fault: then the fleet merely holds other devices that sit where
                    # this one fell (a weak site's signal, where a flapping link drops).
                    self._corroborated_baselines(assessment, explained, findings, rows, index)
                    self._streaks.pop("baseline", None)
                else:
                    self._baselines(assessment, explained, findings, rows.finite(index))
                if model is not None and fleet_scores is not None:
                    if tail <= 10.0**-self._alert_surprise:
                        self._fleet(model, rows.finite(index), explained, findings)
                    else:
                        self._streaks.pop("fleet", None)
                    if relation_best[index] >= self._alert_surprise:
                        self._relation(model, fleet_scores, index, rows, explained, findings)
            if findings or assessment.is_anomaly:
                suspect = {f.explanation.get("metric") for f in findings.values()}
                if assessment.is_anomaly:
                    suspect |= {c.metric for c in assessment.contributions}
                for metric in suspect:
                    if isinstance(metric, str) and rows.value(index, metric) is not None:
                        normal[index, column[metric]] = False
            results.append(findings)
        if self._held:
            normal[:, self._shapes.columns(sorted(self._held & set(self._shapes.metrics)))] = False
        bands = self._shapes.learn_bands(values, normal)
        return [self._with_bands(findings, bands[s]) for s, findings in enumerate(results)]

    def _with_bands(self, findings: dict[str, Finding], bands: np.ndarray) -> dict[str, Finding]:
        """State the learned normal band in every finding about a metric: a service
        engineer needs "normal is 2.1 to 3.0 A" beside the value. A finding's metric was
        not learned from on that sample, so its band is the one before it."""
        if not findings:
            return findings
        annotated = {}
        for signature, finding in findings.items():
            named = finding.explanation.get("metric")
            if not isinstance(named, str) or named not in self._shapes.metrics:
                annotated[signature] = finding
                continue
            low, high = bands[self._shapes.columns((named,))[0]]
            if low != low:
                annotated[signature] = finding
                continue
            explanation = {
                **finding.explanation,
                "normal_low": _round(float(low)),
                "normal_high": _round(float(high)),
            }
            annotated[signature] = dataclasses.replace(finding, explanation=explanation)
        return annotated

    def _beyond_limits(self, raw: np.ndarray, names: list[str]) -> np.ndarray:
        """``[sample, limit]``: which samples of the batch are beyond which profile limit."""
        beyond = np.zeros((len(raw), len(self.profile.limits)), dtype=np.bool_)
        with np.errstate(invalid="ignore"):
            for i, limit in enumerate(self.profile.limits):
                if limit.metric not in names:
                    continue
                column = raw[:, names.index(limit.metric)]
                high = limit.direction == "high"
                beyond[:, i] = column > limit.value if high else column < limit.value
        return beyond

    def _limits(
        self, beyond: np.ndarray, index: int, rows: _Rows, findings: dict[str, Finding]
    ) -> None:
        """Findings of the limits ``beyond`` (one sample's row of :meth:`_beyond_limits`)."""
        for limit, hit in zip(self.profile.limits, beyond.tolist(), strict=True):
            if hit:
                value = rows.value(index, limit.metric)
                evidence = {"detector": "limit", "metric": limit.metric, "value": value}
                _keep(findings, Finding(limit.signature, 1.0, {**evidence, "limit": limit.value}))

    def _link(self, ts: float, findings: dict[str, Finding]) -> None:
        if not self._drops:  # the usual case: a link that never dropped
            self._link_judged_at = ts
            return
        recent = [at for at in self._drops if ts - FLAP_WINDOW_S <= at <= ts]
        if recent:
            evidence = {"detector": "presence", "drops_last_hour": len(recent)}
            fresh = max(recent) > self._link_judged_at
            score = min(1.0, len(recent) / FLAPS)
            _keep(findings, Finding("connectivity/flapping", score, evidence, fresh=fresh))
        self._link_judged_at = ts

    def _shape_findings(
        self,
        shapes: BatchShapes,
        index: int,
        shaped: Sequence[int],
        rows: _Rows,
        steep: Sequence[tuple[str, float]],
        findings: dict[str, Finding],
    ) -> set[str]:
        """Findings of the shape detectors on one sample; returns the metrics they
        explain. ``shaped`` are the columns where a stuck or spike score is up, ``steep``
        the trend metrics whose surprise reaches the alert bar, with their signed
        surprise."""
        explained = set()
        names = self._shapes.metrics
        for j in shaped:
            metric = names[j]
            value = rows.value(index, metric)
            stuck = float(shapes.stuck[index, j])
            if stuck > 0:
                explained.add(metric)
                repeat: dict[str, object] = {"detector": "repeat", "metric": metric}
                repeat["value"] = value
                repeats = int(shapes.run[index, j])
                _keep(
                    findings,
                    Finding(
                        f"sensor-stuck/{metric}",
                        stuck,
                        {**repeat, "repeats": repeats},
                        persisted=repeats + 1,  # the frozen value, then its repeats
                    ),
                )
            spikes = float(shapes.spike[index, j])
            if spikes > 0:
                explained.add(metric)
                peak = float(shapes.spike_peak[index, j])
                evidence: dict[str, object] = {
                    "detector": "spike",
                    "metric": metric,
                    "value": value if peak != peak else peak,
                    "spikes": int(shapes.spike_count[index, j]),
                }
                span = int(shapes.spike_span[index, j])
                fresh = bool(shapes.spike_new[index, j])
                finding = Finding(f"spike/{metric}", spikes, evidence, persisted=span, fresh=fresh)
                _keep(findings, finding)
        for metric, trend in steep:
            name = self.profile.trends.get((metric, "high" if trend > 0 else "low"))
            if name:
                value = rows.value(index, metric)
                _keep(
                    findings,
                    Finding(
                        name,
                        _severity(abs(trend)),
                        {
                            "detector": "trend",
                            "metric": metric,
                            "value": value,
                            "surprise": round(abs(trend), 2),
                        },
                    ),
                )
        return explained

    def _restarts(
        self, values: np.ndarray, counters: set[str], column: Mapping[str, int]
    ) -> np.ndarray:
        """The samples at which the device had restarted since the one before: one of
        its counters (uptime) fell. A restart is what a firmware fix does, and what a
        leak's freed heap follows."""
        restarted = np.zeros(len(values), dtype=np.bool_)
        known = [(metric, column[metric]) for metric in counters if metric in column]
        if not known:
            return restarted
        block = values[:, [j for _, j in known]]
        if not np.isnan(block).any():  # the usual batch: every counter in every sample
            last = [self._last_counts.get(metric, math.nan) for metric, _ in known]
            before = np.vstack((last, block[:-1]))  # NaN: no earlier reading to fall from
            fell: np.ndarray = np.logical_or.reduce(block < before, axis=1)
            for (metric, _), reading in zip(known, block[-1].tolist(), strict=True):
                self._last_counts[metric] = reading
            return fell
        for metric in counters:
            j = column.get(metric)
            if j is None:
                continue
            at = np.flatnonzero(~np.isnan(values[:, j]))
            if not len(at):
                continue
            readings = values[at, j]
            before = np.concatenate(([self._last_counts.get(metric, math.nan)], readings[:-1]))
            restarted[at[readings < before]] = True
            self._last_counts[metric] = float(readings[-1])
        return restarted

    def _trend_surprises(
        self,
        shapes: BatchShapes,
        explained: np.ndarray,
        column: Mapping[str, int],
        restarts: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Per trend metric of the profile, the signed trend surprise of each sample of
        the batch (NaN where the metric is absent, a counter, or explained by its shape:
        the trend learns only from the samples it judges). A restart carries over to the
        next judged sample."""
        trends = {}
        since = np.cumsum(restarts) if restarts.any() else None
        for metric in self._trend_metrics:
            j = column.get(metric)
            if j is None:
                continue
            view = shapes.view[:, j]
            judged = ~np.isnan(view) & ~explained[:, j]
            if since is None:  # the usual batch: no restart, nothing starts afresh
                fresh = np.zeros(np.count_nonzero(judged), dtype=np.bool_)
            else:
                at = np.flatnonzero(judged)
                before = np.concatenate(([0], since[at][:-1])) if len(at) else at
                fresh = since[at] > before
            surprises = np.full(len(view), np.nan)
            surprises[judged] = self._trends[metric].update_many(view[judged], fresh)
            trends[metric] = surprises
        return trends

    def _baselines(
        self,
        assessment: Assessment,
        explained: set[str],
        findings: dict[str, Finding],
        metrics: Mapping[str, float],
    ) -> None:
        candidates = [
            c for c in assessment.contributions if c.metric not in explained and c.metric != "*"
        ]
        if not assessment.is_anomaly or not candidates:
            self._streaks.pop("baseline", None)
            return
        top = max(candidates, key=lambda c: abs(c.z))
        drifting = self._persists("baseline", top.metric, top.z) or top.detector == "drift"
        name = self._name(top.metric, top.z, "sensor-drift" if drifting else "")
        _keep(
            findings,
            Finding(
                name,
                _severity(assessment.surprise),
                {
                    "detector": top.detector,
                    "surprise": round(top.surprise, 2),
                    "metric": top.metric,
                    "value": metrics.get(top.metric),
                    "baseline": top.baseline,
                    "z": round(top.z, 2),
                    "others": {c.metric: round(c.z, 2) for c in candidates[:5] if c is not top},
                },
                learned=True,
            ),
        )

    def _corroborated_baselines(
        self,
        assessment: Assessment,
        explained: set[str],
        findings: dict[str, Finding],
        rows: _Rows,
        index: int,
    ) -> None:
        """The baselines' finding of a sample the fleet finds ordinary, kept only where a
        detector that is not learned already names the same signature in it, and only
        from a view of the reading itself: the burst and drift views average the last
        tens of samples, so after a fix they go on reporting the fault's readings while
        the drops that corroborated them are an hour's memory."""
        named = {signature for signature, f in findings.items() if not f.learned}
        if not named or not assessment.is_anomaly:
            return
        own: dict[str, Finding] = {}
        self._baselines(assessment, explained, own, rows.finite(index))
        for signature, finding in own.items():
            if signature in named and finding.explanation.get("detector") not in WINDOW_VIEWS:
                _keep(findings, finding)

    def _fleet(
        self,
        model: FleetModel,
        metrics: Mapping[str, float],
        explained: set[str],
        findings: dict[str, Finding],
    ) -> None:
        """The fleet model: relationships between metrics that one metric alone hides.
        Called only for samples the batch pass found unusual."""
        counters = self._shapes.counters()
        judged = model.score_one({k: v for k, v in metrics.items() if k not in counters})
        residuals = [(m, r) for m, r in judged.contributions if m not in explained]
        if judged.surprise < self._alert_surprise or not residuals:
            self._streaks.pop("fleet", None)
            return
        metric, residual = residuals[0]
        drifting = self._persists("fleet", metric, residual)
        _keep(
            findings,
            Finding(
                self._name(metric, residual, "sensor-drift" if drifting else ""),
                _severity(judged.surprise),
                {
                    "detector": "fleet",
                    "surprise": round(judged.surprise, 2),
                    "metric": metric,
                    "value": metrics.get(metric),
                    "expected": model.expected(metrics).get(metric),
                    "residual": round(residual, 2),
                },
                learned=True,
            ),
        )

    def _relation(
        self,
        model: FleetModel,
        scores: FleetScores,
        index: int,
        rows: _Rows,
        explained: set[str],
        findings: dict[str, Finding],
    ) -> None:
        """The metric furthest from what the sample's other metrics predict by the fleet's
        relationships, where that distance is rarer than the alert bar among healthy
        devices: a compressor running 20 °C hotter than its speed, lift and weather call
        for, which the fleet model's subspace statistics take for a busy compressor.
        Named only for a metric the profile protects with a hard limit, in the
        direction the profile gives a meaning: the rating says how hot a part may run,
        the relations how hot it should run now. A relation the linear model only
        approximates (efficiency in a warm spell) bends at the edges of what the fleet
        has seen, and one it finds for firmware metrics (free memory) runs between
        devices, not within one: a few devices' offsets make any metric look
        predictable. The fleet model's own statistics still report a sample that is
        unusual as a whole."""
        surprise = scores.loo_surprise[index]
        # Beyond the bar a metric has a calibration, so its excess is a number.
        j = int(
            np.argmax(np.where(surprise >= self._alert_surprise, scores.loo_excess[index], -1.0))
        )
        metric = model.metrics[j]
        residual = float(scores.loo[index, j])
        name = self.profile.meaning.get((metric, "high" if residual > 0 else "low"))
        rated = any(limit.metric == metric for limit in self.profile.limits)
        if metric in explained or name is None or not rated:
            return
        value = rows.value(index, metric)
        expected = None if value is None else model.relation_expected(metric, value, residual)
        _keep(
            findings,
            Finding(
                name,
                _severity(float(surprise[j])),
                {
                    "detector": "relation",
                    "surprise": round(float(surprise[j]), 2),
                    "metric": metric,
                    "value": value,
                    "expected": None if expected is None else _round(expected),
                    "residual": round(residual, 2),
                },
                learned=True,
            ),
        )

    def _persists(self, source: str, metric: str, signed: float) -> bool:
        """Whether ``source`` has found ``metric`` off in the same direction for
        DRIFT_STREAK anomalous samples in a row (a baseline follows a step within that)."""
        streak_metric, streak = self._streaks.get(source, ("", deque[float]()))
        if streak_metric != metric or (streak and (streak[-1] > 0) != (signed > 0)):
            streak = deque(maxlen=DRIFT_STREAK)
            self._streaks[source] = (metric, streak)
        streak.append(signed)
        return len(streak) == DRIFT_STREAK

    def _name(self, metric: str, signed: float, kind: str) -> str:
        """The signature for ``metric`` deviating in the direction of ``signed``: the
        profile's meaning first, else ``kind/metric`` (``anomaly`` by default)."""
        direction: Direction = "high" if signed > 0 else "low"
        meaning = self.profile.meaning.get((metric, direction))
        if meaning:
            return meaning
        if f"sensor-drift/{metric}" in self._suspected:
            kind = "sensor-drift"  # the same drift, still wandering off either way
        return f"{kind or 'anomaly'}/{metric}"


class _Rows:
    """A batch's readings by sample and metric name (NaN = absent or not finite), with a
    sample's finite readings as a mapping built only when a finding needs it."""

    def __init__(self, names: list[str], raw: np.ndarray) -> None:
        self._position = {name: k for k, name in enumerate(names)}
        self._names = names
        self._raw = raw

    def value(self, index: int, metric: str) -> float | None:
        k = self._position.get(metric)
        if k is None:
            return None
        value = float(self._raw[index, k])
        return None if value != value else value

    def finite(self, index: int) -> dict[str, float]:
        row = self._raw[index].tolist()
        return {name: v for name, v in zip(self._names, row, strict=True) if v == v}


def _by_sample(flags: np.ndarray) -> dict[int, list[int]]:
    """The columns set in each row of a boolean matrix, for the rows with any."""
    rows: dict[int, list[int]] = {}
    if not flags.any():
        return rows
    samples, columns = np.nonzero(flags)
    for s, j in zip(samples.tolist(), columns.tolist(), strict=True):
        rows.setdefault(s, []).append(j)
    return rows


def _by_sample_of(
    surprises: Mapping[str, np.ndarray], bar: float
) -> dict[int, list[tuple[str, float]]]:
    """Per sample, the metrics (in ``surprises``' order) whose signed surprise reaches
    ``bar`` in magnitude, with that surprise; NaN never does."""
    rows: dict[int, list[tuple[str, float]]] = {}
    for metric, signed in surprises.items():
        at = np.flatnonzero(np.abs(signed) >= bar)  # NaN compares false, with no warning
        for s in at.tolist():
            rows.setdefault(s, []).append((metric, float(signed[s])))
    return rows


def _readings(samples: Sequence[tuple[float, Mapping[str, float]]]) -> tuple[list[str], np.ndarray]:
    """A batch as its metric names (in first-seen order) and a ``[sample, metric]``
    matrix, NaN where a metric is absent or not finite. A device usually sends the same
    metrics in every sample: then each row is read by one C-level getter."""
    names = list(samples[0][1])
    width = len(names)
    rows: list[Sequence[float | None]] = []
    if width:
        get = _getter(tuple(names))
        try:  # as many metrics as the first sample, all of them its own: the same ones
            rows = [get(m) for _, m in samples if len(m) == width]
        except KeyError:
            rows = []
    if len(rows) != len(samples) or not width:
        names = list(dict.fromkeys(k for _, m in samples for k in m))
        rows = [[m.get(n, math.nan) for n in names] for _, m in samples]
    raw = np.array(rows, dtype=np.float64).reshape(len(samples), len(names))
    raw[~np.isfinite(raw)] = np.nan
    return names, raw


@functools.lru_cache(maxsize=256)
def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, float]], Sequence[float]]:
    """Reads ``names`` from a mapping holding all of them, as one tuple."""
    if len(names) == 1:
        name = names[0]
        return lambda m: (m[name],)
    return operator.itemgetter(*names)


def _round(value: float) -> float:
    """Three significant digits: what a person reads, not float noise."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 2 - math.floor(math.log10(abs(value)))))


def _severity(surprise: float) -> float:
    """Any anomaly state counts as evidence (≥ 0.5); rarer evidence scores higher."""
    return max(0.5, min(1.0, surprise / MAX_SURPRISE))


def _keep(findings: dict[str, Finding], finding: Finding) -> None:
    """Keep the strongest finding per signature. Where a learned detector and one that
    knows the fault's own shape, limit or presence name the same signature at once, the
    signature is vouched for by more than a short history (a link reported weak and seen
    dropping is flapping), so the kept finding is not learned-only, whichever is stronger."""
    current = findings.get(finding.signature)
    if current is None:
        findings[finding.signature] = finding
        return
    kept = finding if finding.score > current.score else current
    learned = current.learned and finding.learned
    if kept.learned != learned:
        kept = dataclasses.replace(kept, learned=learned)
    findings[finding.signature] = kept
