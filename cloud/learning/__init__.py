"""Fleet learning: multivariate models per device model, learned from fleet telemetry.

One :class:`FleetModel` per device model learns how that model's metrics move together
across the fleet, and flags samples that break those relationships even when every metric
alone looks normal. :class:`Trainer` fits new versions from a :class:`HistorySource` into a
:class:`ModelStore`; the SQL and skops implementations of both live in :mod:`cloud.db`
(``FleetHistory``, ``ModelRegistry``), so this package is pure: numpy, no I/O.

Typical use from a diagnoser::

    model = registry.latest(device.model)        # None until there is enough history
    if model is not None:
        judged = model.score_one(sample.metrics)  # FleetModelScore
        if judged.is_anomaly:
            metric, residual = judged.contributions[0]
"""

from cloud.learning.errors import (
    LearningError,
    ModelFileMissing,
    ModelIntegrityError,
    NotEnoughHistory,
)
from cloud.learning.fleet_model import FitOptions, FleetModel, FleetModelScore, FleetScores
from cloud.learning.storage import HistorySource, HistoryWindow, ModelInfo, ModelStore
from cloud.learning.trainer import Trainer, TrainingReport, TrainingRound

__all__ = [
    "FitOptions",
    "FleetModel",
    "FleetModelScore",
    "FleetScores",
    "HistorySource",
    "HistoryWindow",
    "LearningError",
    "ModelFileMissing",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelStore",
    "NotEnoughHistory",
    "Trainer",
    "TrainingReport",
    "TrainingRound",
]
