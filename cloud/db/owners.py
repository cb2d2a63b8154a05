"""Owner accounts: sign-up, and sign-in to a short-lived bearer token.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults), which is slow and
memory-hard on purpose: human passwords are low-entropy, unlike device secrets and API
tokens, which plain SHA-256 suffices for. Sign-in tokens come from the one
:class:`~cloud.db.tokens.TokenStore`, with an expiry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from cloud.db.schema import owners
from cloud.db.tokens import TokenStore
from device_agent.clock import Clock


class EmailTaken(Exception):
    """An account with this email exists already (emails compare case-insensitively)."""


@dataclass(frozen=True)
class OwnerRecord:
    id: str
    email: str
    created_at: float


@dataclass(frozen=True)
class SignIn:
    """A bearer token for an owner and how long it lasts."""

    owner_id: str
    token: str
    expires_in_s: float


def email_key(email: str) -> str:
    """What makes two emails the same account: case is ignored throughout."""
    return email.strip().lower()


class OwnerStore:
    """Thread-safe (SQLAlchemy engine; argon2's hasher keeps no state between calls)."""

    def __init__(
        self, engine: Engine, clock: Clock, tokens: TokenStore, token_ttl_s: float
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.tokens = tokens
        self.token_ttl_s = token_ttl_s
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash("an account that does not exist")

    def create(self, email: str, password: str) -> OwnerRecord:
        """A new account; raises EmailTaken when the email (ignoring case) has one."""
        owner = OwnerRecord(f"owner-{uuid.uuid4().hex}", email.strip(), self.clock.now())
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    owners.insert().values(
                        id=owner.id,
                        email=owner.email,
                        email_key=email_key(email),
                        password_hash=self._hasher.hash(password),
                        created_at=owner.created_at,
                    )
                )
        except IntegrityError:
            raise EmailTaken(f"an account with email {owner.email!r} exists already") from None
        return owner

    def sign_in(self, email: str, password: str) -> SignIn | None:
        """A fresh token for the right password, None otherwise. An unknown email costs
        a hash verification too, so timing does not tell which emails have accounts."""
        query = select(owners.c.id, owners.c.password_hash).where(
            owners.c.email_key == email_key(email)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if not self._verify(row.password_hash if row else self._dummy_hash, password) or not row:
            return None
        if self._hasher.check_needs_rehash(row.password_hash):
            self._store_hash(row.id, password)
        token = self.tokens.issue("owner", row.id, label="sign-in", ttl_s=self.token_ttl_s)
        return SignIn(row.id, token, self.token_ttl_s)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _store_hash(self, owner_id: str, password: str) -> None:
        """Re-hash with the current parameters (they were raised since the last sign-in)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(owners)
                .where(owners.c.id == owner_id)
                .values(password_hash=self._hasher.hash(password))
            )
