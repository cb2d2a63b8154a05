"""The factory registry: devices a manufacturing batch made, and their credentials.

Only digests are stored (see :mod:`cloud.identity.digests`). Whether a device is known is
one primary-key lookup, so the broker side can ask it on every connect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from cloud.db.schema import factory_devices
from cloud.identity import FactoryBatch, claim_code_digest, secret_digest, secret_matches
from device_agent.clock import Clock
from device_agent.identity import new_device_secret

_LOOKUP_CHUNK = 1000
"""Ids per ``IN (...)`` when checking a batch against the registry (SQLite caps bound
parameters per statement)."""


class DevicesAlreadyRegistered(Exception):
    """A batch names devices the registry already holds; nothing of it was imported."""

    def __init__(self, device_ids: list[str]) -> None:
        self.device_ids = sorted(device_ids)
        shown = ", ".join(self.device_ids[:10])
        more = f" and {len(self.device_ids) - 10} more" if len(self.device_ids) > 10 else ""
        super().__init__(
            f"{len(self.device_ids)} devices of the batch are already registered "
            f"({shown}{more}); nothing was imported"
        )


class ClaimCodeInUse(Exception):
    """A batch's claim code is already another registered device's; nothing imported."""


@dataclass(frozen=True)
class FactoryDeviceRecord:
    device_id: str
    model: str
    firmware: str
    credentials_version: int
    imported_at: float
    rotated_at: float | None


@dataclass(frozen=True)
class RotatedCredentials:
    """A device's new secret, shown this once; only its digest is stored."""

    device_id: str
    device_secret: str
    credentials_version: int


@dataclass(frozen=True)
class ProofKey:
    secret_sha256: str
    credentials_version: int


class FactoryRegistry:
    """Thread-safe (SQLAlchemy engine, one transaction per call)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def import_batch(self, batch: FactoryBatch) -> int:
        """Register every device of ``batch`` in one transaction and return how many; a
        device already registered raises DevicesAlreadyRegistered and imports nothing."""
        ids = [d.device_id for d in batch.devices]
        now = self.clock.now()
        rows = [
            {
                "device_id": d.device_id,
                "model": batch.model,
                "firmware": batch.firmware,
                "secret_sha256": secret_digest(d.device_secret),
                "claim_code_sha256": claim_code_digest(d.claim_code),
                "credentials_version": 1,
                "imported_at": now,
                "rotated_at": None,
            }
            for d in batch.devices
        ]
        try:
            with self.engine.begin() as conn:
                taken = self._registered(conn, ids)
                if taken:
                    raise DevicesAlreadyRegistered(taken)
                conn.execute(factory_devices.insert(), rows)
        except IntegrityError:
            # A concurrent import took some ids, or a claim code collided (79 random bits:
            # never by chance, so a batch file imported under other serials).
            with self.engine.connect() as conn:
                taken = self._registered(conn, ids)
            if taken:
                raise DevicesAlreadyRegistered(taken) from None
            raise ClaimCodeInUse(
                "a claim code of the batch already belongs to a registered device; "
                "nothing was imported"
            ) from None
        return len(rows)

    @staticmethod
    def _registered(conn: Any, ids: list[str]) -> list[str]:
        taken: list[str] = []
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            query = select(factory_devices.c.device_id).where(
                factory_devices.c.device_id.in_(chunk)
            )
            taken.extend(conn.scalars(query))
        return taken

    def is_known(self, device_id: str) -> bool:
        """Whether a manufacturing batch made this device (one primary-key lookup)."""
        query = select(factory_devices.c.device_id).where(factory_devices.c.device_id == device_id)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def get(self, device_id: str) -> FactoryDeviceRecord | None:
        query = select(
            factory_devices.c.device_id,
            factory_devices.c.model,
            factory_devices.c.firmware,
            factory_devices.c.credentials_version,
            factory_devices.c.imported_at,
            factory_devices.c.rotated_at,
        ).where(factory_devices.c.device_id == device_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return FactoryDeviceRecord(**row._mapping) if row else None

    def proof_key(self, device_id: str) -> ProofKey | None:
        """What provisioning checks a device's proof with: its secret's digest and its
        credentials version; None for a device no batch made (one primary-key lookup)."""
        query = select(
            factory_devices.c.secret_sha256, factory_devices.c.credentials_version
        ).where(factory_devices.c.device_id == device_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else ProofKey(row.secret_sha256, int(row.credentials_version))

    def verify_device_secret(self, device_id: str, secret: str) -> bool:
        """Whether ``secret`` is the device's current secret (constant-time compare; an
        unknown device is compared against a dummy digest, so it takes as long)."""
        query = select(factory_devices.c.secret_sha256).where(
            factory_devices.c.device_id == device_id
        )
        with self.engine.connect() as conn:
            stored = conn.scalar(query)
        matches = secret_matches(secret, stored if stored is not None else "0" * 64)
        return matches and stored is not None

    def rotate_credentials(self, conn: Any, device_id: str) -> RotatedCredentials | None:
        """Give the device a new secret within the caller's transaction and bump its
        credentials version; None for a device the registry does not hold."""
        secret = new_device_secret()
        statement = (
            update(factory_devices)
            .where(factory_devices.c.device_id == device_id)
            .values(
                secret_sha256=secret_digest(secret),
                credentials_version=factory_devices.c.credentials_version + 1,
                rotated_at=self.clock.now(),
            )
            .returning(factory_devices.c.credentials_version)
        )
        version = conn.scalar(statement)
        if version is None:
            return None
        return RotatedCredentials(device_id, secret, int(version))
