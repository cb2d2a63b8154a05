"""What the learning core needs from storage, as plain data and Protocols.

The trainer reads history through a :class:`HistorySource` and writes models through a
:class:`ModelStore`; their SQL and file implementations live in :mod:`cloud.db`, so this
package imports no database or file-format library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cloud.learning.fleet_model import FleetModel

__all__ = ["HistorySource", "HistoryWindow", "ModelInfo", "ModelStore"]


@dataclass(frozen=True)
class ModelInfo:
    """One stored version; ``path`` is relative to the registry's ``model_dir``."""

    device_model: str
    version: int
    trained_at: float
    n_samples: int
    n_devices: int
    metrics: list[str]
    thresholds: dict[str, float]
    path: str
    sha256: str


class ModelStore(Protocol):
    """Where trained fleet models live; what the trainer and the diagnoser need."""

    def save(self, model: FleetModel, *, trained_at: float, n_devices: int) -> ModelInfo: ...

    def latest(self, device_model: str) -> FleetModel | None: ...

    def list_latest(self) -> list[ModelInfo]: ...


@dataclass(frozen=True)
class HistoryWindow:
    """Evenly subsampled telemetry of one device model: ``samples[i]`` came from
    ``device_ids[i]``; ``available`` counts the rows in the window before subsampling."""

    device_model: str
    samples: list[dict[str, float]]
    device_ids: list[str]
    available: int

    @property
    def n_devices(self) -> int:
        return len(set(self.device_ids))


class HistorySource(Protocol):
    """Fleet telemetry for training, read across the devices of one model."""

    def device_models(self) -> list[str]: ...

    def span_s(self, device_model: str, until: float) -> float: ...

    def window(
        self, device_model: str, since: float, until: float, max_samples: int
    ) -> HistoryWindow: ...
