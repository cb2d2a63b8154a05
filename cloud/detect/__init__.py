"""Streaming anomaly detection: pure, causal, per stream.

What the rest of Aftercare uses:

* :class:`StreamMonitor` — one per device (or CSV file); ``update(ts, metrics)`` returns
  an :class:`Assessment` (score in [0, 1], ``is_anomaly``, contributions);
* :class:`MonitorConfig` / :class:`AlertPolicy` — knobs, with defaults shared by the
  cloud and ``aftercare detect``;
* the :class:`Detector` protocol and its registry (``create_detector``,
  ``registered_detectors``) for individual detectors.

No I/O, no clock reads, no globals beyond the detector registry.
"""

from cloud.detect import detectors as _detectors  # registers the built-in detectors
from cloud.detect.base import (
    TIME_KEY,
    Detector,
    UnknownDetector,
    create_detector,
    register,
    registered_detectors,
)
from cloud.detect.decide import AlertPolicy, AlertState
from cloud.detect.detectors import SurpriseDetector
from cloud.detect.monitor import (
    Assessment,
    Contribution,
    InvalidSample,
    MonitorConfig,
    StreamMonitor,
)
from cloud.detect.pca import PcaDetector

del _detectors

__all__ = [
    "TIME_KEY",
    "AlertPolicy",
    "AlertState",
    "Assessment",
    "Contribution",
    "Detector",
    "InvalidSample",
    "MonitorConfig",
    "PcaDetector",
    "StreamMonitor",
    "SurpriseDetector",
    "UnknownDetector",
    "create_detector",
    "register",
    "registered_detectors",
]
