"""The factory identity a device ships with: its serial (``device_id``), a device secret
and the claim code printed on its box (a QR code carries all three).

The factory makes them (``firmware_sim`` stands in for a factory), the device keeps its
secret, the owner types the claim code, and the cloud checks both. All three sides import
this module, so the claim-code format has one definition: a code the factory prints always
parses in the cloud.

Claim codes are 16 characters in 4 groups of 4 (``7KQM-X3PA-9WVT-HN2C``) from an alphabet
without look-alikes (no ``0 O 1 I L``), so a person can read one off a box and type it:
31 symbols, about 79 bits of entropy, far beyond what online guessing (throttled by the
cloud) could search.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets

__all__ = [
    "CLAIM_CODE_ALPHABET",
    "CLAIM_CODE_BITS",
    "CLAIM_CODE_LENGTH",
    "DEVICE_SECRET_MIN_LENGTH",
    "InvalidClaimCode",
    "format_claim_code",
    "new_claim_code",
    "new_device_secret",
    "normalise_claim_code",
    "secret_digest",
]

CLAIM_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Upper-case letters and digits without the look-alikes 0/O, 1/I/L."""
CLAIM_CODE_GROUP_LENGTH = 4
CLAIM_CODE_GROUPS = 4
CLAIM_CODE_LENGTH = CLAIM_CODE_GROUP_LENGTH * CLAIM_CODE_GROUPS
CLAIM_CODE_BITS = CLAIM_CODE_LENGTH * math.log2(len(CLAIM_CODE_ALPHABET))
"""Entropy of a random claim code (about 79 bits)."""
CLAIM_CODE_SEPARATORS = frozenset(" -\t_.")
"""What people put between groups when they type a code; ignored when parsing."""
CLAIM_CODE_MAX_INPUT = 64
"""Typed input longer than this is refused before any parsing."""

DEVICE_SECRET_BYTES = 32
DEVICE_SECRET_MIN_LENGTH = 32
"""A device secret is random and at least this long (``new_device_secret`` makes 43
URL-safe characters, 256 bits), so a plain SHA-256 digest of it cannot be reversed."""

_TYPABLE = frozenset(CLAIM_CODE_ALPHABET + CLAIM_CODE_ALPHABET.lower())


class InvalidClaimCode(ValueError):
    """Text that is not a claim code; the message says what is wrong with it."""


def new_claim_code(rng: random.Random | None = None) -> str:
    """A random claim code, formatted for printing. ``rng`` defaults to the operating
    system's generator; pass a seeded ``random.Random`` only for reproducible test data."""
    chooser = rng if rng is not None else secrets.SystemRandom()
    return format_claim_code(
        "".join(chooser.choice(CLAIM_CODE_ALPHABET) for _ in range(CLAIM_CODE_LENGTH))
    )


def normalise_claim_code(text: str) -> str:
    """The canonical form of a typed claim code: upper case, separators removed.

    Any casing and any spaces, dashes, dots or underscores between characters give the
    same canonical form; anything else raises :class:`InvalidClaimCode` naming the
    problem (wrong length, a character outside the alphabet)."""
    if len(text) > CLAIM_CODE_MAX_INPUT:
        raise InvalidClaimCode(
            f"a claim code has {CLAIM_CODE_LENGTH} characters; got {len(text)} characters"
        )
    compact = "".join(c for c in text if c not in CLAIM_CODE_SEPARATORS)
    foreign = sorted({c for c in compact if c not in _TYPABLE})
    if foreign:
        shown = ", ".join(repr(c) for c in foreign[:5])
        raise InvalidClaimCode(
            f"a claim code uses only {CLAIM_CODE_ALPHABET} (no 0, O, 1, I or L); found {shown}"
        )
    if len(compact) != CLAIM_CODE_LENGTH:
        raise InvalidClaimCode(
            f"a claim code has {CLAIM_CODE_LENGTH} characters (besides dashes and spaces); "
            f"got {len(compact)}"
        )
    return compact.upper()


def format_claim_code(code: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX`` from any accepted spelling of a code."""
    canonical = normalise_claim_code(code)
    step = CLAIM_CODE_GROUP_LENGTH
    return "-".join(canonical[i : i + step] for i in range(0, CLAIM_CODE_LENGTH, step))


def new_device_secret() -> str:
    """A fresh device secret (256 random bits, URL-safe text) from the OS generator."""
    return secrets.token_urlsafe(DEVICE_SECRET_BYTES)


def secret_digest(secret: str) -> str:
    """Hex SHA-256 of a device secret: what the cloud's registry stores instead of the
    secret, and (as raw bytes) the key a device proves its identity with when it is
    provisioned. Defined here so the device and the cloud compute it one way."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
