"""Fleet learning: multivariate models per device model, trained from stored telemetry.

One :class:`FleetModel` per device model learns how that model's metrics move together
across the fleet, and flags samples that break those relationships even when every metric
alone looks normal. Models are versioned and stored with skops (:class:`ModelRegistry`);
:class:`Trainer` builds them from the database on a schedule or on demand.

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
from cloud.learning.history import FleetHistory, HistoryWindow
from cloud.learning.registry import TRUSTED_TYPES, ModelInfo, ModelRegistry, ModelStore
from cloud.learning.schedule import retrain_forever
from cloud.learning.trainer import Trainer, TrainingReport, TrainingRound

__all__ = [
    "TRUSTED_TYPES",
    "FitOptions",
    "FleetHistory",
    "FleetModel",
    "FleetModelScore",
    "FleetScores",
    "HistoryWindow",
    "LearningError",
    "ModelFileMissing",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelRegistry",
    "ModelStore",
    "NotEnoughHistory",
    "Trainer",
    "TrainingReport",
    "TrainingRound",
    "retrain_forever",
]
