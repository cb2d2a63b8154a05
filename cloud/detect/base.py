"""The detector contract and the registry of detectors.

A detector has the river shape: ``learn_one`` folds a sample into its state,
``score_one`` judges a sample **without changing any state**, ``step_score`` does both in
one pass (what production runs), and ``warmup_samples``
says how many samples it must learn before its scores mean anything (it scores 0.0
until then). Deciding (thresholds, hysteresis, alert suppression) is not a detector's
job: see :mod:`cloud.detect.decide`.

A sample is a mapping of metric name to value. Missing metrics and NaN values are
allowed and carry no evidence. Detectors that need time (seasonal profiles) read it
from the reserved key :data:`TIME_KEY` (seconds since the Unix epoch), which
:class:`~cloud.detect.monitor.StreamMonitor` adds; it is never treated as a metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "TIME_KEY",
    "Detector",
    "DetectorFactory",
    "UnknownDetector",
    "create_detector",
    "metric_items",
    "register",
    "registered_detectors",
]

TIME_KEY = "@t"
"""Reserved sample key holding the sample's timestamp in seconds (not a metric)."""


@runtime_checkable
class Detector(Protocol):
    """A streaming anomaly scorer over samples of named metrics."""

    warmup_samples: int

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Update the state with one sample (samples must arrive in time order)."""

    def score_one(self, x: Mapping[str, float]) -> float:
        """Anomaly score in [0, 1] for a sample; never mutates the detector."""

    def step_score(self, x: Mapping[str, float]) -> float:
        """``score_one`` then ``learn_one`` in one pass, with the same result: the fast
        path production runs (the contract suite checks that the two agree)."""


DetectorFactory = Callable[[Sequence[str], int], Detector]
"""Builds a detector for the given metric names with a random seed."""


class UnknownDetector(KeyError):
    """Raised for a detector name that is not registered."""


_REGISTRY: dict[str, DetectorFactory] = {}


def register(name: str, factory: DetectorFactory) -> None:
    """Make a detector available by name (the contract suite tests every entry)."""
    _REGISTRY[name] = factory


def registered_detectors() -> tuple[str, ...]:
    """Names of every registered detector, sorted."""
    return tuple(sorted(_REGISTRY))


def create_detector(name: str, metrics: Sequence[str], seed: int = 0) -> Detector:
    """Instantiate a registered detector."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(registered_detectors())
        raise UnknownDetector(f"no detector named {name!r}; known: {known}") from None
    return factory(metrics, seed)


def metric_items(x: Mapping[str, float]) -> list[tuple[str, float]]:
    """The finite metric values of a sample (drops TIME_KEY, NaN and infinities)."""
    out = []
    for k, v in x.items():
        if k == TIME_KEY:
            continue
        f = float(v)
        if f - f == 0.0:  # finite
            out.append((k, f))
    return out
