"""API tokens: random bearer secrets stored only as SHA-256 digests.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to make a stolen table
useless (no password stretching needed), and lookups stay a single indexed query. Roles:
``service`` (the whole fleet), ``owner`` (one owner's devices) and ``manufacturer``
(simulation runs only). A token may carry an expiry (owners' sign-in tokens do); one
without (service tokens, tokens the command line issues) stays valid until it is deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, or_, select

from cloud.db.schema import api_tokens
from device_agent.clock import Clock

Role = Literal["service", "owner", "manufacturer"]
ROLES: tuple[Role, ...] = ("service", "owner", "manufacturer")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the service team sees the fleet, an owner only their devices, a
    manufacturer only simulation runs (no device, incident or owner data at all)."""

    role: Role
    owner_id: str | None = None

    def __post_init__(self) -> None:
        if (self.role == "owner") != (self.owner_id is not None):
            raise ValueError("an owner principal, and only an owner, carries an owner_id")

    def may_see(self, device_owner_id: str | None) -> bool:
        return self.role == "service" or (
            device_owner_id is not None and device_owner_id == self.owner_id
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def issue(
        self,
        role: Role,
        owner_id: str | None = None,
        label: str = "",
        ttl_s: float | None = None,
    ) -> str:
        """Create a token and return it; only its digest is kept. With ``ttl_s`` it is
        refused from ``ttl_s`` seconds of the store's clock on."""
        if role == "owner" and not owner_id:
            raise ValueError("an owner token needs an owner_id")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError("a token's ttl_s must be positive")
        token = _new_token()
        now = self.clock.now()
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    token_sha256=digest(token),
                    role=role,
                    owner_id=owner_id if role == "owner" else None,
                    label=label,
                    created_at=now,
                    expires_at=None if ttl_s is None else now + ttl_s,
                )
            )
        return token

    def principal_for(self, token: str) -> Principal | None:
        """Who holds ``token``; None for an unknown or expired one."""
        query = select(api_tokens.c.role, api_tokens.c.owner_id).where(
            api_tokens.c.token_sha256 == digest(token),
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > self.clock.now()),
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        for role in ROLES:  # an unknown role, or an owner's without an owner, grants nothing
            if row.role == role and (role != "owner" or row.owner_id is not None):
                return Principal(role=role, owner_id=row.owner_id if role == "owner" else None)
        return None


def _new_token() -> str:
    """A random bearer token that never starts with ``-``: tokens are pasted into command
    lines (``aftercare sim run --token T``), where one that did would be read as an option
    (about one token in 64 of URL-safe base64)."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token
