"""One exception hierarchy for fleet learning, so callers catch ``LearningError`` once."""

from __future__ import annotations

__all__ = [
    "LearningError",
    "ModelFileMissing",
    "ModelIntegrityError",
    "NotEnoughHistory",
]


class LearningError(Exception):
    """Base of everything :mod:`cloud.learning` raises on purpose."""


class NotEnoughHistory(LearningError):
    """Too little usable telemetry to learn a fleet model; the cloud keeps running on
    rules and per-device baselines until more history arrives (cold start)."""

    def __init__(
        self,
        device_model: str,
        reason: str,
        *,
        samples: int = 0,
        devices: int = 0,
    ) -> None:
        super().__init__(f"not enough history for device model {device_model!r}: {reason}")
        self.device_model = device_model
        self.reason = reason
        self.samples = samples
        self.devices = devices


class ModelIntegrityError(LearningError):
    """A stored model file does not match its recorded SHA-256, or holds types we do not
    trust. Such a file is never deserialised; retrain to replace it."""


class ModelFileMissing(LearningError):
    """A model row points at a file that is gone (model_dir moved or cleaned); retrain
    or restore the folder."""
