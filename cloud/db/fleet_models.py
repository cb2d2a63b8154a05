"""Versioned fleet models on disk (skops) with their metadata in the ``ml_models`` table.

Why skops and a digest: a model file is code-adjacent data that outlives the process that
wrote it. Pickle would execute whatever a tampered file asks for; skops only rebuilds the
types it is told to trust, and our payload holds nothing but builtins and numpy arrays, so
the trusted list is explicit and empty. The SHA-256 recorded when the file was written is
checked *before* anything is deserialised, and the verified bytes (not the file again) are
what gets loaded, so the file cannot change between the check and the load.

Layout: ``<model_dir>/<device model>/v<N>.skops``; versions increase per device model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import skops.io as sio
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from cloud.db.schema import ml_models
from cloud.learning.errors import LearningError, ModelFileMissing, ModelIntegrityError
from cloud.learning.fleet_model import FleetModel
from cloud.learning.storage import ModelInfo
from device_agent.clock import Clock

__all__ = ["TRUSTED_TYPES", "ModelRegistry"]

log = logging.getLogger("aftercare.learning")

TRUSTED_TYPES: list[str] = []
"""Types skops may rebuild beyond its defaults (builtins, numpy arrays). Deliberately
empty: :meth:`FleetModel.to_payload` uses nothing else. Never ``trusted=True``."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class _Cached:
    info: ModelInfo | None
    model: FleetModel | None
    checked_at: float


class ModelRegistry:
    """skops files + ``ml_models`` rows. Thread-safe; ``latest`` is cheap enough to call
    per sample (it asks the database for a newer version at most every ``refresh_s``)."""

    def __init__(
        self, engine: Engine, model_dir: str | Path, clock: Clock, refresh_s: float = 60.0
    ) -> None:
        self.engine = engine
        self.model_dir = Path(model_dir)
        self.clock = clock
        self.refresh_s = refresh_s
        self.load_failures = 0
        """Versions refused or unreadable since start (each is also logged as an error)."""
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()

    # --- writing --------------------------------------------------------------------

    def save(self, model: FleetModel, *, trained_at: float, n_devices: int) -> ModelInfo:
        """Store ``model`` as the next version of its device model and return its record.

        The row and the file appear together: the file is moved into place only after the
        row was inserted, and the transaction commits after that.
        """
        folder = self.model_dir / directory_for(model.device_model)
        folder.mkdir(parents=True, exist_ok=True)
        with self._save_lock, self.engine.begin() as conn:
            latest = conn.scalar(
                select(func.max(ml_models.c.version)).where(
                    ml_models.c.device_model == model.device_model
                )
            )
            version = int(latest or 0) + 1
            final = folder / f"v{version}.skops"
            temporary = folder / f".v{version}.{os.getpid()}.{threading.get_ident()}.tmp"
            sio.dump(model.to_payload(), temporary)
            info = ModelInfo(
                device_model=model.device_model,
                version=version,
                trained_at=trained_at,
                n_samples=model.n_samples,
                n_devices=n_devices,
                metrics=list(model.metrics),
                thresholds=model.thresholds(),
                path=final.relative_to(self.model_dir).as_posix(),
                sha256=hashlib.sha256(temporary.read_bytes()).hexdigest(),
            )
            try:
                conn.execute(ml_models.insert().values(**asdict(info)))
            except IntegrityError:
                temporary.unlink(missing_ok=True)
                raise LearningError(
                    f"another process saved version {version} of {model.device_model!r} "
                    "at the same time; train again"
                ) from None
            os.replace(temporary, final)
        with self._lock:
            self._cache[model.device_model] = _Cached(info, model, self.clock.now())
        log.info(
            "model saved device_model=%s version=%d samples=%d devices=%d",
            info.device_model,
            info.version,
            info.n_samples,
            info.n_devices,
        )
        return info

    # --- reading --------------------------------------------------------------------

    def load(self, info: ModelInfo) -> FleetModel:
        """The model of one stored version, after checking its SHA-256 and its types.

        Raises :class:`ModelIntegrityError` (tampered, foreign types, malformed) or
        :class:`ModelFileMissing`.
        """
        path = self.model_dir / info.path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelFileMissing(
                f"model file {path} of {info.device_model!r} v{info.version} is missing"
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != info.sha256:
            raise ModelIntegrityError(
                f"refusing {path}: its SHA-256 {actual[:12]}… differs from the recorded "
                f"{info.sha256[:12]}… (file changed after training); retrain "
                f"{info.device_model!r} to replace it"
            )
        try:
            untrusted = sio.get_untrusted_types(data=data)
            if set(untrusted) - set(TRUSTED_TYPES):
                raise ModelIntegrityError(f"refusing {path}: it holds untrusted types {untrusted}")
            payload: Any = sio.loads(data, trusted=TRUSTED_TYPES)
            return FleetModel.from_payload(payload)
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ModelIntegrityError(f"refusing {path}: malformed model ({exc})") from exc

    def latest(self, device_model: str) -> FleetModel | None:
        """The newest usable model of ``device_model``, or None (cold start).

        Never raises for a bad file: a refused version is logged, counted in
        ``load_failures``, and the previously loaded model (if any) keeps serving, so one
        damaged file cannot stop diagnosis of a fleet.
        """
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(device_model)
            if cached is not None and now - cached.checked_at < self.refresh_s:
                return cached.model
            info = self.latest_info(device_model)
            if cached is not None and _same_version(cached.info, info):
                cached.checked_at = now
                return cached.model
            model = cached.model if cached is not None else None
            if info is not None:
                try:
                    model = self.load(info)
                except LearningError as exc:
                    self.load_failures += 1
                    log.error(
                        "model refused device_model=%s version=%d reason=%s",
                        device_model,
                        info.version,
                        exc,
                    )
            self._cache[device_model] = _Cached(info, model, now)
            return model

    def latest_info(self, device_model: str) -> ModelInfo | None:
        query = (
            select(ml_models)
            .where(ml_models.c.device_model == device_model)
            .order_by(ml_models.c.version.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _info(row) if row is not None else None

    def versions(self, device_model: str) -> list[ModelInfo]:
        """Every stored version of ``device_model``, oldest first."""
        query = (
            select(ml_models)
            .where(ml_models.c.device_model == device_model)
            .order_by(ml_models.c.version)
        )
        with self.engine.connect() as conn:
            return [_info(row) for row in conn.execute(query)]

    def list_latest(self) -> list[ModelInfo]:
        """The newest version of every device model, by device model."""
        newest = (
            select(ml_models.c.device_model, func.max(ml_models.c.version).label("version"))
            .group_by(ml_models.c.device_model)
            .subquery()
        )
        query = (
            select(ml_models)
            .join(
                newest,
                (newest.c.device_model == ml_models.c.device_model)
                & (newest.c.version == ml_models.c.version),
            )
            .order_by(ml_models.c.device_model)
        )
        with self.engine.connect() as conn:
            return [_info(row) for row in conn.execute(query)]


def directory_for(device_model: str) -> str:
    """A folder name for a device model: the name itself when it is filesystem-safe,
    otherwise a slug plus a digest (model names come from devices and are untrusted)."""
    if _SAFE_NAME.match(device_model) and ".." not in device_model:
        return device_model
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", device_model).strip("._-")[:60] or "model"
    return f"{slug}-{hashlib.sha256(device_model.encode()).hexdigest()[:12]}"


def _same_version(a: ModelInfo | None, b: ModelInfo | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.version == b.version and a.sha256 == b.sha256


def _info(row: Any) -> ModelInfo:
    return ModelInfo(
        device_model=row.device_model,
        version=int(row.version),
        trained_at=float(row.trained_at),
        n_samples=int(row.n_samples),
        n_devices=int(row.n_devices),
        metrics=list(row.metrics),
        thresholds={str(k): float(v) for k, v in dict(row.thresholds).items()},
        path=str(row.path),
        sha256=str(row.sha256),
    )
