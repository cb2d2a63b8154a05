"""The normal band of a metric learned from what a device reported before a fault: the
median plus or minus a robust spread (the scaled median absolute deviation), so the few
odd readings that history always holds do not widen it the way a standard deviation
would. Used where the detector did not state its own normal range."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping

__all__ = ["MAD_TO_SIGMA", "MIN_SAMPLES", "robust_band", "robust_bands"]

MAD_TO_SIGMA = 1.4826
"""The median absolute deviation times this estimates a normal distribution's sigma."""
MIN_SAMPLES = 5
"""Fewer readings than this say too little about normal to draw a band."""


def robust_band(values: Iterable[float], width_sigmas: float = 3.0) -> tuple[float, float] | None:
    """(low, high) = median ± ``width_sigmas`` robust sigmas of the finite values; None
    when fewer than MIN_SAMPLES are finite. A metric that never moved has a band of
    zero width (its one value)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < MIN_SAMPLES:
        return None
    middle = statistics.median(finite)
    spread = MAD_TO_SIGMA * statistics.median(abs(v - middle) for v in finite)
    return middle - width_sigmas * spread, middle + width_sigmas * spread


def robust_bands(
    samples: Iterable[Mapping[str, float]], width_sigmas: float = 3.0
) -> dict[str, tuple[float, float]]:
    """The band of every metric the samples carry (those with enough readings)."""
    columns: dict[str, list[float]] = {}
    for sample in samples:
        for name, value in sample.items():
            columns.setdefault(name, []).append(value)
    bands = {}
    for name, values in sorted(columns.items()):
        band = robust_band(values, width_sigmas)
        if band is not None:
            bands[name] = band
    return bands
