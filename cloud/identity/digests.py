"""What the cloud keeps instead of device secrets and claim codes: SHA-256 digests.

A plain, unsalted SHA-256 is enough for both, and it is what lets "which device has this
claim code" and "is this secret right" stay one indexed lookup: a device secret carries
256 random bits and a claim code about 79 (see :mod:`device_agent.identity`), so nobody
can search their space offline from a stolen table, and password stretching (argon2),
which exists for low-entropy human passwords, would only slow every lookup down. The
digest of a claim code is taken over its canonical form, so any spelling an owner types
finds the same device.
"""

from __future__ import annotations

import hashlib
import hmac

from device_agent.identity import normalise_claim_code, secret_digest

__all__ = ["claim_code_digest", "secret_digest", "secret_matches"]


def claim_code_digest(code: str) -> str:
    """Hex SHA-256 of the code's canonical form; raises InvalidClaimCode for text that is
    not a claim code."""
    return hashlib.sha256(normalise_claim_code(code).encode("ascii")).hexdigest()


def secret_matches(secret: str, digest: str) -> bool:
    """Whether ``secret`` hashes to ``digest``, compared in constant time so response
    times do not reveal how much of a guess was right."""
    return hmac.compare_digest(secret_digest(secret), digest)
