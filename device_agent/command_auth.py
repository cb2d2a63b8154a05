"""Whether a command really comes from this device's cloud, now, for the first time.

The commands topic is the one way into the device's actuators, so every command is
checked before anything runs, in this order:

1. a public key is pinned (from provisioning, or the agent's ``command_key`` setting);
2. the Ed25519 signature verifies over the exact command text the device then parses;
3. the text is a valid command, for this device, with the id its envelope names;
4. it has not expired, and its expiry lies at most :data:`MAX_AHEAD_S` ahead (a command
   signed to stay valid for days is a replay waiting to happen);
5. its nonce was never seen; nonces are kept durably until their command expires, so a
   restart does not reopen the replay window.

A refusal raises :class:`CommandRefused` with the reason; the runner reports it. Only a
refusal of an authentic command on its first delivery (expired on the way, say) is that
command's terminal state; anything else (forged, tampered, stolen from another device,
replayed) is an attempt on the device, reported as an event, so it can never take the
place of the genuine command's own result.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from device_agent.clock import Clock
from device_agent.contract import Command, SignedCommand, describe

MAX_AHEAD_S = 900.0
"""The latest expiry a device accepts, from its own clock: commands live for minutes."""
CLOCK_SKEW_S = 120.0
"""How far in the future a command may say it was issued (the two clocks differ)."""


class CommandRefused(Exception):
    """A command the device must not run; ``reason`` says why (it is reported).
    ``authentic``: signed by the pinned key, for this device, delivered the first time."""

    def __init__(self, reason: str, *, authentic: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.authentic = authentic


class NonceLedger(Protocol):
    def seen(self, nonce: str) -> bool: ...

    def remember(self, nonce: str, expires_at: float) -> None: ...


def load_public_key(text: str) -> Ed25519PublicKey:
    """A pinned key from its base64 text (the raw 32 bytes); ValueError if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a base64 Ed25519 public key: {exc}") from None


class CommandAuthenticator:
    """Opens signed commands for one device, or refuses them with the reason."""

    def __init__(
        self,
        device_id: str,
        public_key: Ed25519PublicKey | None,
        nonces: NonceLedger,
        clock: Clock,
        max_ahead_s: float = MAX_AHEAD_S,
    ) -> None:
        self.device_id = device_id
        self.public_key = public_key
        self.nonces = nonces
        self.clock = clock
        self.max_ahead_s = max_ahead_s

    def open(self, signed: SignedCommand) -> Command:
        """The command the signed text holds, once every check has passed."""
        if self.public_key is None:
            raise CommandRefused("no command key is pinned on this device")
        if signed.device_id != self.device_id:
            raise CommandRefused(f"addressed to another device ({signed.device_id})")
        signature = base64.b64decode(signed.signature)
        try:
            self.public_key.verify(signature, signed.command.encode())
        except InvalidSignature:
            raise CommandRefused("signature does not verify (unsigned or tampered)") from None
        try:
            command = Command.model_validate_json(signed.command)
        except ValidationError as exc:
            raise CommandRefused(f"signed text is not a command: {describe(exc)}") from None
        if command.device_id != self.device_id:
            raise CommandRefused(f"signed for another device ({command.device_id})")
        if command.command_id != signed.command_id:
            raise CommandRefused("envelope names another command than the signed one")
        if self.nonces.seen(command.nonce):
            raise CommandRefused("replayed nonce")
        now = self.clock.now()
        reason = None
        if command.expires_at <= now:
            reason = "expired"
        elif command.expires_at > now + self.max_ahead_s:
            reason = f"expires more than {self.max_ahead_s:g} s ahead"
        elif command.issued_at > now + CLOCK_SKEW_S:
            reason = "issued in the future"
        self.nonces.remember(command.nonce, command.expires_at)
        if reason is not None:
            raise CommandRefused(reason, authentic=True)
        return command


class SqliteNonceLedger:
    """Nonces of accepted commands, kept until their command expires: in the agent's
    state file, so they survive a restart (``:memory:`` for simulated fleets)."""

    def __init__(self, path: str | Path, clock: Clock) -> None:
        self.clock = clock
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL)"
        )

    def seen(self, nonce: str) -> bool:
        row = self._db.execute("SELECT 1 FROM nonces WHERE nonce = ?", (nonce,)).fetchone()
        return row is not None

    def remember(self, nonce: str, expires_at: float) -> None:
        """Keep a nonce (and forget those whose commands have expired: they are refused
        as expired anyway, so the ledger stays as small as the commands still valid)."""
        self._db.execute("DELETE FROM nonces WHERE expires_at < ?", (self.clock.now(),))
        self._db.execute(
            "INSERT OR IGNORE INTO nonces(nonce, expires_at) VALUES (?, ?)", (nonce, expires_at)
        )

    def close(self) -> None:
        self._db.close()
