"""Every command is checked before anything runs: each way an attacker (or a stale
message) can try to get a command executed is refused, with its reason."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from cloud.heal.signing import CommandSigner
from device_agent.clock import ManualClock
from device_agent.command_auth import (
    MAX_AHEAD_S,
    CommandAuthenticator,
    CommandRefused,
    SqliteNonceLedger,
    load_public_key,
)
from device_agent.contract import Command, SignedCommand

NOW = 1_780_000_000.0
DEVICE = "hp-1"


@pytest.fixture
def signer(tmp_path: Path) -> CommandSigner:
    return CommandSigner.load_or_create(tmp_path / "key.pem")


def _auth(
    signer: CommandSigner | None, clock: ManualClock, state: str = ":memory:"
) -> CommandAuthenticator:
    key = load_public_key(signer.public_key_text) if signer else None
    return CommandAuthenticator(DEVICE, key, SqliteNonceLedger(state, clock), clock)


def _command(**changes: object) -> Command:
    fields: dict[str, object] = {
        "device_id": DEVICE,
        "command_id": "c-1",
        "action": "restart_compressor",
        "params": {"delay_s": 1},
        "issued_at": NOW,
        "expires_at": NOW + 300,
        "nonce": "nonce-000001",
    }
    fields.update(changes)
    return Command.model_validate(fields)


def _refusal(auth: CommandAuthenticator, signed: SignedCommand) -> str:
    with pytest.raises(CommandRefused) as refused:
        auth.open(signed)
    return refused.value.reason


def test_a_command_signed_by_the_pinned_key_opens(signer: CommandSigner) -> None:
    command = _command()
    assert _auth(signer, ManualClock(NOW)).open(signer.sign(command)) == command


def test_an_unsigned_command_is_refused(signer: CommandSigner) -> None:
    signed = signer.sign(_command())
    forged = signed.model_copy(update={"signature": base64.b64encode(bytes(64)).decode()})
    assert "does not verify" in _refusal(_auth(signer, ManualClock(NOW)), forged)


def test_a_tampered_command_is_refused(signer: CommandSigner) -> None:
    signed = signer.sign(_command())
    tampered = signed.model_copy(
        update={"command": signed.command.replace("restart_compressor", "factory_reset__")}
    )
    assert "does not verify" in _refusal(_auth(signer, ManualClock(NOW)), tampered)


def test_a_command_signed_by_another_key_is_refused(signer: CommandSigner, tmp_path: Path) -> None:
    attacker = CommandSigner.load_or_create(tmp_path / "attacker.pem")
    assert "does not verify" in _refusal(_auth(signer, ManualClock(NOW)), attacker.sign(_command()))


def test_no_pinned_key_means_no_command_runs(signer: CommandSigner) -> None:
    assert "no command key" in _refusal(_auth(None, ManualClock(NOW)), signer.sign(_command()))


def test_a_command_for_another_device_is_refused_even_when_readdressed(
    signer: CommandSigner,
) -> None:
    """An attacker who captured hp-2's command re-addresses its envelope to hp-1: the
    signed text still names hp-2."""
    stolen = signer.sign(_command(device_id="hp-2"))
    readdressed = stolen.model_copy(update={"device_id": DEVICE})
    assert "another device (hp-2)" in _refusal(_auth(signer, ManualClock(NOW)), readdressed)
    assert "another device" in _refusal(_auth(signer, ManualClock(NOW)), stolen)


def test_an_envelope_that_relabels_the_command_is_refused(signer: CommandSigner) -> None:
    relabelled = signer.sign(_command()).model_copy(update={"command_id": "c-2"})
    assert "another command" in _refusal(_auth(signer, ManualClock(NOW)), relabelled)


def test_an_expired_command_is_refused(signer: CommandSigner) -> None:
    signed = signer.sign(_command())
    assert _refusal(_auth(signer, ManualClock(NOW + 301)), signed) == "expired"


def test_a_command_valid_for_too_long_is_refused(signer: CommandSigner) -> None:
    signed = signer.sign(_command(expires_at=NOW + MAX_AHEAD_S + 60))
    assert "ahead" in _refusal(_auth(signer, ManualClock(NOW)), signed)


def test_a_command_from_the_future_is_refused(signer: CommandSigner) -> None:
    signed = signer.sign(_command(issued_at=NOW + 600, expires_at=NOW + 700))
    assert "future" in _refusal(_auth(signer, ManualClock(NOW)), signed)


def test_a_replayed_command_is_refused_even_after_a_restart(
    signer: CommandSigner, tmp_path: Path
) -> None:
    clock = ManualClock(NOW)
    state = str(tmp_path / "outbox.db")
    signed = signer.sign(_command())
    _auth(signer, clock, state).open(signed)
    assert _refusal(_auth(signer, clock, state), signed) == "replayed nonce"


def test_the_nonce_ledger_forgets_only_expired_nonces(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    ledger = SqliteNonceLedger(tmp_path / "state.db", clock)
    ledger.remember("a" * 8, NOW + 10)
    ledger.remember("b" * 8, NOW + 1000)
    clock.advance(100)
    ledger.remember("c" * 8, NOW + 1100)
    assert not ledger.seen("a" * 8)
    assert ledger.seen("b" * 8)
    assert ledger.seen("c" * 8)


def test_the_key_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    first = CommandSigner.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert CommandSigner.load_or_create(path).public_key_text == first.public_key_text


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    from cloud.heal.signing import CommandKeyError

    path = tmp_path / "key.pem"
    CommandSigner.load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(CommandKeyError, match="chmod 600"):
        CommandSigner.load_or_create(path)
