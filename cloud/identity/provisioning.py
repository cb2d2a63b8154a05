"""The cloud's side of provisioning, as pure logic: challenges and proof checks.

The protocol and its trade-offs are described in :mod:`device_agent.provisioning`; this
module decides, the adapter (``cloud.provision``) looks devices up and talks MQTT.

A challenge is single-use (taken out of the book when a proof names it, whether the
proof is right or not, so one nonce allows one guess), short-lived, and bound to the
device it was issued to. The book is bounded: it holds challenges only for devices the
registry knows (the adapter checks first), at most a few per device and a fixed number
overall, dropping the oldest, so a flood of hellos costs memory it does not keep.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from device_agent.contract import ProvisionChallenge, ProvisionProof
from device_agent.provisioning import proof_mac

CHALLENGE_TTL_S = 60.0
MAX_PENDING = 10_000
MAX_PENDING_PER_DEVICE = 4
"""Several per device, so another bootstrap client asking for a victim's challenges
cannot keep replacing the one the victim is answering (up to this many hellos)."""


class ProofRejected(Exception):
    """A proof that provisions nothing; ``reason`` is what the dead letter records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Pending:
    device_id: str
    expires_at: float


class ChallengeBook:
    """Outstanding challenges. Not thread-safe: one provisioning worker owns it."""

    def __init__(
        self,
        ttl_s: float = CHALLENGE_TTL_S,
        max_pending: int = MAX_PENDING,
        max_per_device: int = MAX_PENDING_PER_DEVICE,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_pending = max_pending
        self.max_per_device = max_per_device
        self._pending: OrderedDict[str, _Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def issue(self, device_id: str, now: float) -> ProvisionChallenge:
        """A fresh challenge for ``device_id`` (a device the registry knows)."""
        self._forget_expired(now)
        mine = [n for n, p in self._pending.items() if p.device_id == device_id]
        for nonce in mine[: max(0, len(mine) - self.max_per_device + 1)]:
            del self._pending[nonce]
        while len(self._pending) >= self.max_pending:
            self._pending.popitem(last=False)
        nonce = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        expires_at = now + self.ttl_s
        self._pending[nonce] = _Pending(device_id, expires_at)
        return ProvisionChallenge(device_id=device_id, nonce=nonce, expires_at=expires_at)

    def take(self, device_id: str, nonce: str, now: float) -> None:
        """Consume the challenge ``nonce``; ProofRejected unless it was issued to
        ``device_id`` and has not expired or been used."""
        pending = self._pending.pop(nonce, None)
        if pending is None:
            raise ProofRejected("unknown, used or dropped challenge")
        if pending.device_id != device_id:
            raise ProofRejected("challenge was issued to another device")
        if now > pending.expires_at:
            raise ProofRejected("challenge expired")

    def _forget_expired(self, now: float) -> None:
        expired = [n for n, p in self._pending.items() if now > p.expires_at]
        for nonce in expired:
            del self._pending[nonce]


def check_proof(book: ChallengeBook, proof: ProvisionProof, secret_sha256: str, now: float) -> None:
    """Accept ``proof`` from a device whose registry digest is ``secret_sha256`` (hex), or
    raise ProofRejected. The challenge is consumed either way; the MAC is compared in
    constant time."""
    book.take(proof.device_id, proof.nonce, now)
    try:
        key = bytes.fromhex(secret_sha256)
    except ValueError:
        raise ProofRejected("the registry's digest for this device is unreadable") from None
    expected = proof_mac(key, proof.device_id, proof.nonce, proof.device_key)
    if not hmac.compare_digest(expected, proof.proof):
        raise ProofRejected("proof does not verify (wrong secret or tampered)")
