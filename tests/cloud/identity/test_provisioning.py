"""The provisioning handshake without a broker: an honest device gets its credentials,
and no tampering with a proof, a nonce, a device id or a key is ever accepted or makes
either side raise anything but its own refusal."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.identity import secret_digest
from cloud.identity.provisioning import ChallengeBook, ProofRejected, check_proof
from device_agent import contract
from device_agent.contract import ContractError, ProvisionProof, ProvisionStep
from device_agent.provisioning import (
    DeviceHandshake,
    IssuedCredentials,
    ProvisioningFailed,
    seal,
)

DEVICE = "heatpump-hp200-00c0ffee01"
SECRET = "s" * 43
NOW = 1_750_000_000.0
ISSUED = IssuedCredentials(
    mqtt_username=DEVICE,
    mqtt_password="p" * 32,
    command_key=base64.b64encode(bytes(range(32))).decode(),
    credentials_version=1,
)


def handshake(book: ChallengeBook) -> tuple[DeviceHandshake, ProvisionProof]:
    device = DeviceHandshake(DEVICE, SECRET)
    challenge = book.issue(device.hello().device_id, NOW)
    return device, device.answer(challenge)


def test_an_honest_device_gets_its_credentials_once() -> None:
    book = ChallengeBook()
    device, proof = handshake(book)
    check_proof(book, proof, secret_digest(SECRET), NOW + 1)
    assert device.open(seal(ISSUED, proof)) == ISSUED
    with pytest.raises(ProofRejected, match="unknown, used"):
        check_proof(book, proof, secret_digest(SECRET), NOW + 2)  # a replay


def test_stale_wrong_and_foreign_proofs_are_rejected() -> None:
    book = ChallengeBook(ttl_s=60)
    _, proof = handshake(book)
    with pytest.raises(ProofRejected, match="expired"):
        check_proof(book, proof, secret_digest(SECRET), NOW + 61)
    _, proof = handshake(book)
    with pytest.raises(ProofRejected, match="does not verify"):
        check_proof(book, proof, secret_digest("another secret " * 3), NOW)
    _, proof = handshake(book)  # a right proof for a nonce issued to another device
    other = proof.model_copy(update={"device_id": "evcharger-ec11-0000000001"})
    with pytest.raises(ProofRejected, match="another device"):
        check_proof(book, other, secret_digest(SECRET), NOW)


def test_the_book_stays_bounded_and_keeps_a_few_per_device() -> None:
    book = ChallengeBook(max_pending=10, max_per_device=2)
    nonces = [book.issue(DEVICE, NOW).nonce for _ in range(5)]
    assert len(book) == 2
    for n in range(20):
        book.issue(f"dev-{n}", NOW)
    assert len(book) == 10
    with pytest.raises(ProofRejected):
        book.take(DEVICE, nonces[0], NOW)


def test_credentials_sealed_for_another_handshake_do_not_open() -> None:
    book = ChallengeBook()
    victim, proof = handshake(book)
    eavesdropper = DeviceHandshake(DEVICE, "a bootstrap client without the secret!!")
    eavesdropper.nonce = proof.nonce  # it saw the challenge on the shared topics
    with pytest.raises(ProvisioningFailed, match="do not open"):
        eavesdropper.open(seal(ISSUED, proof))
    assert victim.open(seal(ISSUED, proof)) == ISSUED


def _flip(text: str, position: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[position % len(raw)] ^= 1 << (position % 8)
    return base64.b64encode(bytes(raw)).decode()


FIELDS = ("nonce", "device_key", "proof")


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from((*FIELDS, "device_id")),
    position=st.integers(min_value=0, max_value=255),
    other_device=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
)
def test_a_tampered_proof_is_never_accepted(field: str, position: int, other_device: str) -> None:
    book = ChallengeBook()
    _, proof = handshake(book)
    if field == "device_id":
        if other_device == DEVICE:
            return
        tampered = proof.model_copy(update={"device_id": other_device})
    else:
        tampered = proof.model_copy(update={field: _flip(getattr(proof, field), position)})
    with pytest.raises(ProofRejected):
        check_proof(book, tampered, secret_digest(SECRET), NOW)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(["v", "device_id", "nonce", "device_key", "proof", "extra"]),
        st.none()
        | st.integers()
        | st.text(max_size=50)
        | st.binary(max_size=32).map(lambda b: base64.b64encode(b).decode()),
        max_size=6,
    ),
    digest=st.text(max_size=70) | st.just(secret_digest(SECRET)),
)
def test_random_proof_messages_never_crash_the_cloud(body: dict[str, object], digest: str) -> None:
    """Whatever arrives: a ContractError when decoding, else a rejection, never success."""
    book = ChallengeBook()
    handshake(book)
    topic = contract.provision_topic(DEVICE, ProvisionStep.PROOF)
    try:
        proof = contract.decode_provision(topic, json.dumps(body).encode())
    except ContractError:
        return
    assert isinstance(proof, ProvisionProof)
    with pytest.raises(ProofRejected):
        check_proof(book, proof, digest, NOW)


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(["nonce", "cloud_key", "sealed"]),
    position=st.integers(min_value=0, max_value=511),
)
def test_tampered_credentials_never_open(field: str, position: int) -> None:
    book = ChallengeBook()
    device, proof = handshake(book)
    sealed = seal(ISSUED, proof)
    tampered = sealed.model_copy(update={field: _flip(getattr(sealed, field), position)})
    with pytest.raises(ProvisioningFailed):
        device.open(tampered)


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=300), step=st.sampled_from(list(ProvisionStep)))
def test_decoding_random_bytes_raises_only_contract_errors(
    payload: bytes, step: ProvisionStep
) -> None:
    with contextlib.suppress(ContractError):
        contract.decode_provision(contract.provision_topic(DEVICE, step), payload)


def test_provisioning_topics_never_overlap_device_topics() -> None:
    hello = contract.provision_topic("provision", ProvisionStep.HELLO)
    with pytest.raises(ContractError):
        contract.parse_topic(hello)
    with pytest.raises(ContractError):
        contract.parse_provision_topic(contract.topic("provision", contract.Channel.TELEMETRY))
    assert contract.parse_provision_topic(hello) == ("provision", ProvisionStep.HELLO)
