"""Deciding, separate from scoring: thresholds, alert suppression and hysteresis.

Why a policy on top of calibrated surprise: one incident produces a run of surprising
samples; operators (and NAB) want one early alert per incident, not one per sample.
After an alert the emitted score is held low while the same anomaly persists: until the
surprise has stayed below ``release`` for ``rearm_samples`` in a row (or at most
``quiet_samples``), so a new incident soon after is still reported; each alert also
raises a "fatigue" offset that decays over ``fatigue_samples`` so that a stream that
keeps alerting needs ever stronger evidence (a noisy stream should not page all day).
The anomaly *state* (``is_anomaly``) is a separate hysteresis: it starts only with an alert
and lasts while the raw surprise stays above ``release`` (or evidence that is already
averaged over a window, the multivariate statistic ``state_surprise``, stays above
``state_release``), with an off-delay of up to ``hold_samples`` (a tenth of the
anomaly's length) against chattering. So a lasting fault is reported for as long as it
lasts, but the state never opens on evidence the alert bar would have rejected.

Why the state opens only with an alert: the alert threshold is the one bar whose
false-alarm rate is calibrated (one in 10^threshold per test) and damped by fatigue and
the quiet period. A second, lower entry bar for the state (the multivariate statistic at
2.5 instead of 3) gave the state a false-alarm rate several times the alert's and none of
that damping: after a fault, the residual of a machine that does not return exactly to
its old operating point kept re-opening the state sample after sample, i.e. flooding.
``state_threshold`` stays available for a caller who wants that lower bar; its default
(infinity) switches it off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["AlertPolicy", "AlertState"]


@dataclass(frozen=True)
class AlertPolicy:
    """Decision parameters, in surprise units (−log10 probability)."""

    threshold: float = 3.0
    release: float = 1.5
    state_threshold: float = math.inf
    """Opens the state on ``state_surprise`` alone; off by default (see module doc)."""
    state_release: float = 1.5
    quiet_samples: int = 60
    rearm_samples: int = 10
    hold_samples: int = 15
    hold_fraction: float = 0.1
    fatigue_step: float = 0.5
    fatigue_samples: float = 500.0


class AlertState:
    """Mutable per-stream decision state for one :class:`AlertPolicy`."""

    __slots__ = (
        "_anomaly_len",
        "_calm",
        "_clear",
        "_decay",
        "_fatigue",
        "_in_anomaly",
        "_since_alert",
        "policy",
    )

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._decay = math.exp(-1.0 / policy.fatigue_samples)
        self._fatigue = 0.0
        self._since_alert = 1 << 30
        self._in_anomaly = False
        self._calm = 0
        self._clear = 0
        self._anomaly_len = 0

    def step(self, surprise: float, state_surprise: float = 0.0) -> tuple[float, bool, bool]:
        """Fold one sample's surprise; returns (emitted surprise, is_anomaly, alerted)."""
        p = self.policy
        self._fatigue *= self._decay
        self._since_alert += 1
        emitted = surprise - self._fatigue
        alerted = False
        if self._calm < p.rearm_samples:
            self._calm = self._calm + 1 if surprise < p.release else 0
        if self._since_alert <= p.quiet_samples and self._calm < p.rearm_samples:
            emitted = min(emitted, 0.5 * p.threshold)
        elif emitted >= p.threshold:
            alerted = True
            self._since_alert = 0
            self._calm = 0
            self._fatigue += p.fatigue_step
        if alerted or state_surprise >= p.state_threshold:
            self._in_anomaly = True
            self._anomaly_len += 1
            self._clear = 0
        elif self._in_anomaly:
            self._anomaly_len += 1
            self._clear = self._clear + 1 if state_surprise < p.state_release else 0
            # Off-delay: a fault that lasted a while does not end on its first quiet
            # sample (alarm chattering); the hold grows with how long it lasted.
            hold = min(p.hold_fraction * self._anomaly_len, p.hold_samples)
            if surprise < p.release and self._clear > hold:
                self._in_anomaly = False
                self._anomaly_len = 0
        return max(emitted, 0.0), self._in_anomaly, alerted

    def step_many(self, surprises: Sequence[float]) -> list[tuple[float, bool, bool]]:
        """:meth:`step` for each surprise in order, with no state surprise (a per-metric
        monitor's): the same arithmetic with the state in local variables, as a batch
        is judged sample by sample."""
        p = self.policy
        threshold, release, quiet, rearm = p.threshold, p.release, p.quiet_samples, p.rearm_samples
        opens_state = p.state_threshold <= 0.0
        calm_state = p.state_release > 0.0
        decay, fatigue, since_alert = self._decay, self._fatigue, self._since_alert
        in_anomaly, calm, clear, length = (
            self._in_anomaly,
            self._calm,
            self._clear,
            self._anomaly_len,
        )
        out = []
        for surprise in surprises:
            fatigue *= decay
            since_alert += 1
            emitted = surprise - fatigue
            alerted = False
            if calm < rearm:
                calm = calm + 1 if surprise < release else 0
            if since_alert <= quiet and calm < rearm:
                emitted = min(emitted, 0.5 * threshold)
            elif emitted >= threshold:
                alerted = True
                since_alert = 0
                calm = 0
                fatigue += p.fatigue_step
            if alerted or opens_state:
                in_anomaly = True
                length += 1
                clear = 0
            elif in_anomaly:
                length += 1
                clear = clear + 1 if calm_state else 0
                hold = min(p.hold_fraction * length, p.hold_samples)
                if surprise < release and clear > hold:
                    in_anomaly = False
                    length = 0
            out.append((max(emitted, 0.0), in_anomaly, alerted))
        self._fatigue, self._since_alert = fatigue, since_alert
        self._in_anomaly, self._calm, self._clear, self._anomaly_len = (
            in_anomaly,
            calm,
            clear,
            length,
        )
        return out
