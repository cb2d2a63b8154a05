"""Claiming a device with the code on its box, releasing it on resale, and throttling
those who guess codes.

Ownership is the ``device_owners`` link that every owner-scoped query already joins, so a
claim is what makes a device visible to its owner and a release what hides it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from cloud.db.factory import FactoryRegistry, RotatedCredentials
from cloud.db.schema import claim_failures, device_owners, factory_devices
from cloud.db.setup import forget_owner_steps
from cloud.identity import claim_code_digest, retry_after_s
from device_agent.clock import Clock


@dataclass(frozen=True)
class ClaimLimits:
    """Wrong claim codes allowed per sliding window, per account and per client address."""

    window_s: float = 900.0
    per_owner: int = 5
    per_client: int = 20


class ClaimThrottled(Exception):
    """Too many wrong codes lately from this account or address; even a right code is
    refused until ``retry_after_s`` has passed."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many wrong claim codes; try again in {retry_after_s} s")


class UnknownClaimCode(Exception):
    """No registered device has this claim code (counted as a wrong attempt)."""


class ClaimedByAnother(Exception):
    """The device belongs to another owner; it must be released first."""


class NotClaimed(Exception):
    """The device has no owner to release it from."""


@dataclass(frozen=True)
class Claim:
    device_id: str
    model: str
    firmware: str
    claimed_at: float
    created: bool
    """False when the caller had claimed the device already (a repeated claim)."""


@dataclass(frozen=True)
class Release:
    device_id: str
    previous_owner_id: str
    credentials: RotatedCredentials


class ClaimStore:
    """Thread-safe (SQLAlchemy engine, one transaction per call). Several API processes
    share the failure counts, which live in the database; two wrong guesses racing past
    the check together can each be counted, so a limit is exceeded by at most the number
    of concurrent requests, never indefinitely."""

    def __init__(
        self, engine: Engine, clock: Clock, factory: FactoryRegistry, limits: ClaimLimits
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.factory = factory
        self.limits = limits

    def claim(self, owner_id: str, client: str, code: str) -> Claim:
        """Make ``owner_id`` the owner of the device whose box carries ``code``.

        Raises ClaimThrottled (checked first, so a right code is refused too),
        UnknownClaimCode (and counts the failure) or ClaimedByAnother. Claiming one's own
        device again returns it with ``created=False``."""
        now = self.clock.now()
        client = client[:64]
        self._check_throttle(owner_id, client, now)
        digest = claim_code_digest(code)
        query = select(
            factory_devices.c.device_id, factory_devices.c.model, factory_devices.c.firmware
        ).where(factory_devices.c.claim_code_sha256 == digest)
        with self.engine.connect() as conn:
            device = conn.execute(query).first()
        if device is None:
            self._record_failure(owner_id, client, now)
            raise UnknownClaimCode("no device has this claim code")
        try:
            with self.engine.begin() as conn:
                current = self._owner(conn, device.device_id)
                if current is None:
                    conn.execute(
                        device_owners.insert().values(
                            device_id=device.device_id, owner_id=owner_id, claimed_at=now
                        )
                    )
                    return Claim(device.device_id, device.model, device.firmware, now, True)
        except IntegrityError:  # another owner's claim committed between read and insert
            with self.engine.connect() as conn:
                current = self._owner(conn, device.device_id)
        if current is None or current[0] != owner_id:
            raise ClaimedByAnother(f"device {device.device_id} belongs to another owner")
        claimed_at = current[1] if current[1] is not None else now
        return Claim(device.device_id, device.model, device.firmware, claimed_at, False)

    def owner_of(self, device_id: str) -> str | None:
        with self.engine.connect() as conn:
            current = self._owner(conn, device_id)
        return None if current is None else current[0]

    def release(self, device_id: str) -> Release:
        """Remove the owner link and rotate the device's credentials, in one transaction.

        The link and the owner's setup ticks are the owner-specific data about a device
        (both deleted here; open setup support items are resolved); whatever is added
        later (preferences) must be deleted here too. Incidents and
        telemetry stay: they are the product's history, which service needs whoever owns
        it next. The box's claim code stays valid for the next owner. Raises NotClaimed
        for a device without an owner and LookupError for one the factory registry does
        not hold (its credentials could not be rotated)."""
        with self.engine.begin() as conn:
            current = self._owner(conn, device_id)
            if current is None:
                raise NotClaimed(f"device {device_id} has no owner")
            credentials = self.factory.rotate_credentials(conn, device_id)
            if credentials is None:
                raise LookupError(
                    f"device {device_id} is not in the factory registry (it was never "
                    "imported from a batch), so its credentials cannot be rotated"
                )
            conn.execute(delete(device_owners).where(device_owners.c.device_id == device_id))
            forget_owner_steps(conn, device_id, self.clock.now())
        return Release(device_id, current[0], credentials)

    @staticmethod
    def _owner(conn: Any, device_id: str) -> tuple[str, float | None] | None:
        row = conn.execute(
            select(device_owners.c.owner_id, device_owners.c.claimed_at).where(
                device_owners.c.device_id == device_id
            )
        ).first()
        return None if row is None else (row.owner_id, row.claimed_at)

    def _check_throttle(self, owner_id: str, client: str, now: float) -> None:
        since = now - self.limits.window_s
        waits = []
        with self.engine.connect() as conn:
            for column, key, limit in (
                (claim_failures.c.owner_id, owner_id, self.limits.per_owner),
                (claim_failures.c.client, client, self.limits.per_client),
            ):
                recent = (
                    select(claim_failures.c.at)
                    .where(column == key, claim_failures.c.at > since)
                    .order_by(claim_failures.c.at.desc())
                    .limit(limit)
                )
                wait = retry_after_s(conn.scalars(recent), now, limit, self.limits.window_s)
                if wait is not None:
                    waits.append(wait)
        if waits:
            raise ClaimThrottled(max(waits))

    def _record_failure(self, owner_id: str, client: str, now: float) -> None:
        """Count a wrong code, and prune what no window can see any more."""
        with self.engine.begin() as conn:
            conn.execute(claim_failures.insert().values(owner_id=owner_id, client=client, at=now))
            conn.execute(
                delete(claim_failures).where(claim_failures.c.at <= now - self.limits.window_s)
            )
