"""The cloud's command key: every command a device runs is signed with it.

The key is Ed25519 (small, fast, no parameters to get wrong). It is generated on first
start into a file only its owner can read (mode 0600), or loaded from the file the
settings name; devices pin its public half (``command_key`` in the agent's settings).
A key file others may read is refused: anyone who can read it can command every device.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_agent.contract import Command, Details, SignedCommand

__all__ = ["CommandKeyError", "CommandSigner"]

DEFAULT_TTL_S = 300.0
"""How long a command stays valid: long enough for a device to wake and run it, short
enough that a captured command is soon worthless (devices refuse more than 15 min)."""


class CommandKeyError(ValueError):
    """The command key file cannot be used; the message says why and what to do."""


class CommandSigner:
    """Signs commands; :attr:`public_key_text` is what devices pin."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_text = base64.b64encode(raw).decode()

    @classmethod
    def load_or_create(cls, path: Path) -> CommandSigner:
        """The key in ``path``; a new one written there (mode 0600) if there is none."""
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            return cls(key)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise CommandKeyError(
                f"command key {path} is readable by others (mode {mode:o}): chmod 600 {path}"
            )
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise CommandKeyError(f"command key {path} is not a PEM private key: {exc}") from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise CommandKeyError(f"command key {path} is not an Ed25519 key")
        return cls(loaded)

    def sign(self, command: Command) -> SignedCommand:
        """The envelope for ``command``: its JSON text and a signature over those bytes."""
        text = command.model_dump_json()
        signature = self._key.sign(text.encode())
        return SignedCommand(
            device_id=command.device_id,
            command_id=command.command_id,
            command=text,
            signature=base64.b64encode(signature).decode(),
        )

    def issue(
        self,
        device_id: str,
        action: str,
        params: Details | None = None,
        *,
        now: float,
        ttl_s: float = DEFAULT_TTL_S,
        command_id: str | None = None,
    ) -> SignedCommand:
        """A new signed command with a fresh id and nonce, valid from ``now``."""
        command = Command(
            device_id=device_id,
            command_id=command_id or f"cmd-{secrets.token_hex(8)}",
            action=action,
            params=params or {},
            issued_at=now,
            expires_at=now + ttl_s,
            nonce=secrets.token_hex(16),
        )
        return self.sign(command)
