"""Provisioning: how a factory-fresh device earns its own broker credentials.

The handshake, over ``aftercare/provision/v1/{device_id}/{step}``:

1. device → ``hello``;
2. cloud → ``challenge``: a random 32-byte nonce, single-use, valid for a minute;
3. device → ``proof``: a fresh (ephemeral) X25519 public key and
   HMAC-SHA256(key, ``aftercare-provision/v1`` | device id | nonce | that public key);
4. cloud → ``credentials``: the device's broker username and password, the cloud's
   command-signing public key and the credentials version, sealed to the device's
   ephemeral key (X25519 with a cloud ephemeral key → HKDF-SHA256 → ChaCha20-Poly1305).

**The proof key is SHA-256 of the device secret**, i.e. exactly what the cloud's factory
registry stores, because the cloud keeps no secrets in the clear and so could not check an
HMAC keyed by the secret itself. The trade-off: whoever steals the registry table can
provision as any device in it (and so read that device's commands), but still cannot read
or act as the cloud (the command key is elsewhere) nor recover the secrets printed on the
boxes. The upgrade path is a per-device Ed25519 key pair made at the factory, whose public
half the registry keeps: the proof becomes a signature that a stolen table cannot forge.

**Why seal the credentials:** every factory-fresh device connects with the same bootstrap
credential, and Mosquitto 2.0 cannot limit a shared client to its own client id's topics,
so another bootstrap client can subscribe to a victim's ``credentials`` topic. What it
reads there is ciphertext for a key that never left the victim. Each sealing key encrypts
one message only (both X25519 keys are fresh), so the AEAD nonce can be fixed.

Pure: no I/O, no clock; the agent's MQTT side is :mod:`device_agent.enrolment`, the
cloud's is ``cloud.provision``. The cloud imports the primitives from here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Annotated

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from device_agent.contract import (
    ProvisionChallenge,
    ProvisionCredentials,
    ProvisionHello,
    ProvisionProof,
)
from device_agent.identity import secret_digest

__all__ = [
    "DeviceHandshake",
    "IssuedCredentials",
    "ProvisioningFailed",
    "open_sealed",
    "proof_key",
    "proof_mac",
    "public_key_text",
    "seal",
]

CONTEXT = b"aftercare-provision/v1"
_SEAL_NONCE = bytes(12)
"""Fixed AEAD nonce: every sealing key is fresh and encrypts exactly one message."""


class ProvisioningFailed(Exception):
    """The handshake cannot go on; ``reason`` says why (a tampered or stale message,
    credentials that do not open)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuedCredentials(BaseModel):
    """What the cloud gives a provisioned device; sealed on the wire, kept by the agent
    in a file only it can read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt_username: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    mqtt_password: Annotated[str, StringConstraints(min_length=16, max_length=256)]
    command_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
    """The cloud's Ed25519 command key (base64 of its 32 raw bytes), to pin."""
    credentials_version: Annotated[int, Field(ge=1, le=2**31)]


def proof_key(secret: str) -> bytes:
    """The key a device proves itself with: the raw SHA-256 of its secret (the registry's
    hex digest, as bytes)."""
    return bytes.fromhex(secret_digest(secret))


def proof_mac(key: bytes, device_id: str, nonce: str, device_key: str) -> str:
    """Base64 HMAC-SHA256 over the context, device id, nonce and ephemeral public key (all
    newline-separated; none can contain a newline, so no two inputs share a message)."""
    message = b"\n".join((CONTEXT, device_id.encode(), nonce.encode(), device_key.encode()))
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def public_key_text(key: X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw)


def _sealing_key(
    own: X25519PrivateKey, peer: str, device_id: str, nonce: str, device_key: str, cloud_key: str
) -> ChaCha20Poly1305:
    try:
        shared = own.exchange(X25519PublicKey.from_public_bytes(_unb64(peer)))
    except ValueError as exc:  # a low-order point gives an all-zero secret
        raise ProvisioningFailed(f"unusable X25519 public key: {exc}") from None
    info = b"\n".join((CONTEXT, device_id.encode(), device_key.encode(), cloud_key.encode()))
    key = HKDF(hashes.SHA256(), length=32, salt=_unb64(nonce), info=info).derive(shared)
    return ChaCha20Poly1305(key)


def seal(credentials: IssuedCredentials, proof: ProvisionProof) -> ProvisionCredentials:
    """The cloud's side: ``credentials`` sealed to the device key ``proof`` carries. Raises
    ProvisioningFailed for a device key X25519 cannot use."""
    ephemeral = X25519PrivateKey.generate()
    cloud_key = public_key_text(ephemeral)
    aead = _sealing_key(
        ephemeral, proof.device_key, proof.device_id, proof.nonce, proof.device_key, cloud_key
    )
    plaintext = credentials.model_dump_json().encode()
    sealed = aead.encrypt(_SEAL_NONCE, plaintext, proof.device_id.encode())
    return ProvisionCredentials(
        device_id=proof.device_id, nonce=proof.nonce, cloud_key=cloud_key, sealed=_b64(sealed)
    )


def open_sealed(
    message: ProvisionCredentials, ephemeral: X25519PrivateKey, device_key: str
) -> IssuedCredentials:
    """The device's side of :func:`seal`; ProvisioningFailed unless it opens and parses."""
    aead = _sealing_key(
        ephemeral,
        message.cloud_key,
        message.device_id,
        message.nonce,
        device_key,
        message.cloud_key,
    )
    try:
        plaintext = aead.decrypt(_SEAL_NONCE, _unb64(message.sealed), message.device_id.encode())
    except (InvalidTag, ValueError):
        raise ProvisioningFailed("credentials do not open: tampered or not for this key") from None
    try:
        return IssuedCredentials.model_validate_json(plaintext)
    except ValidationError as exc:
        raise ProvisioningFailed(
            f"sealed credentials are malformed: {exc.error_count()} errors"
        ) from None


class DeviceHandshake:
    """One device's side of one provisioning attempt: ``hello()``, ``answer(challenge)``,
    ``open(credentials)``. A new attempt (after a timeout) starts a new handshake."""

    def __init__(self, device_id: str, device_secret: str) -> None:
        self.device_id = device_id
        self._key = proof_key(device_secret)
        self._ephemeral = X25519PrivateKey.generate()
        self.device_key = public_key_text(self._ephemeral)
        self.nonce: str | None = None

    def hello(self) -> ProvisionHello:
        return ProvisionHello(device_id=self.device_id)

    def answer(self, challenge: ProvisionChallenge) -> ProvisionProof:
        """The proof for ``challenge``; the handshake then waits for credentials on it."""
        if challenge.device_id != self.device_id:
            raise ProvisioningFailed(f"challenge for another device ({challenge.device_id})")
        self.nonce = challenge.nonce
        mac = proof_mac(self._key, self.device_id, challenge.nonce, self.device_key)
        return ProvisionProof(
            device_id=self.device_id, nonce=challenge.nonce, device_key=self.device_key, proof=mac
        )

    def open(self, message: ProvisionCredentials) -> IssuedCredentials:
        """The credentials in ``message``; ProvisioningFailed when they answer another
        challenge or do not open with this handshake's key."""
        if message.device_id != self.device_id:
            raise ProvisioningFailed(f"credentials for another device ({message.device_id})")
        if self.nonce is None or not hmac.compare_digest(message.nonce, self.nonce):
            raise ProvisioningFailed("credentials answer another challenge")
        return open_sealed(message, self._ephemeral, self.device_key)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProvisioningFailed("not base64") from None
