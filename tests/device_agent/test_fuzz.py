"""Whatever arrives on a topic, decoding answers with a model or a ContractError that
says why, never another exception; the agent's handling of random acks and commands
never raises, never acts on what it did not send, and never runs a command the pinned
key did not sign."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import aiomqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cloud.heal.signing import CommandSigner
from device_agent import contract
from device_agent.agent import Agent
from device_agent.clock import ManualClock, SystemClock
from device_agent.command_hal import CommandHal
from device_agent.contract import Channel, Command, Scalar
from device_agent.hal import ActionOutcome
from device_agent.settings import AgentSettings

DEVICE = "dev-1"
NOW = 1_750_000_000.0

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
big_ints = st.integers(min_value=-(2**66), max_value=2**66)
ack_like = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 2, "1"]), "device_id": st.sampled_from([DEVICE, "dev-2", ""])},
    optional={
        "ranges": st.lists(st.tuples(big_ints, big_ints) | json_values, max_size=4),
        "events": st.lists(st.text(max_size=70) | json_values, max_size=3),
        "results": st.lists(st.text(max_size=70), max_size=3),
        "extra": json_values,
    },
)
command_like = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "device_id": st.just(DEVICE),
        "command_id": st.text(max_size=70),
        "action": st.text(max_size=20) | st.sampled_from(["restart", "flush_valve"]),
        "issued_at": st.floats(NOW - 10, NOW + 10) | json_values,
        "expires_at": st.floats(NOW - 10, NOW + 10**6) | json_values,
        "nonce": st.text(max_size=70),
    },
    optional={"params": st.dictionaries(st.text(max_size=8), json_values, max_size=3)},
)
signature_like = st.text(alphabet="AB+/", min_size=86, max_size=86).map(lambda t: t + "==")
envelope_like = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "device_id": st.sampled_from([DEVICE, "dev-2"]),
        "command_id": st.text(max_size=70),
        "command": command_like.map(json.dumps) | st.text(max_size=100),
        "signature": signature_like | st.text(max_size=90),
    }
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


payloads = (
    st.binary(max_size=200)
    | json_values.map(_encode)
    | ack_like.map(_encode)
    | envelope_like.map(_encode)
)


@settings(max_examples=400, deadline=None)
@given(channel=st.sampled_from(list(Channel)), payload=payloads)
def test_decode_returns_a_model_or_says_why(channel: Channel, payload: bytes) -> None:
    try:
        message = contract.decode(contract.topic(DEVICE, channel), payload)
    except contract.ContractError as exc:
        reason = exc.reason
        assert reason, "a rejection says why"
        return
    assert isinstance(message, contract.MESSAGE_TYPES[channel])
    assert message.device_id == DEVICE
    assert contract.decode(contract.topic(DEVICE, channel), contract.encode(message)) == message


FIXTURES_ARE_FRESH = [HealthCheck.function_scoped_fixture]
"""Each example builds its own agent and outbox; the factory fixture only hands out folders."""


def _agent(tmp_path_factory: Any) -> Agent:
    folder = tmp_path_factory.mktemp("fuzz")
    settings_ = AgentSettings(device_id=DEVICE, outbox_path=":memory:", state_dir=folder)
    hal = CommandHal("boiler-b1", "1.0", ["true"], None, timeout_s=1)
    return Agent(settings_, hal, SystemClock())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(acks=st.lists(ack_like.map(_encode) | st.binary(max_size=60), min_size=1, max_size=5))
def test_random_acks_never_raise_and_never_erase_unsent_samples(
    acks: list[bytes], tmp_path_factory: Any
) -> None:
    agent = _agent(tmp_path_factory)
    for i in range(20):
        agent.outbox.append(NOW + i, {"t": float(i)})
    agent.uplink.highest_sent = 9  # seqs 0..9 went out, 10..19 never did
    for payload in acks:
        message = aiomqtt.Message(contract.topic(DEVICE, Channel.ACK), payload, 1, False, 1, None)
        decoded = agent._accept(message)
        if isinstance(decoded, contract.TelemetryAck):
            agent.uplink.accept_ack(decoded)
    remaining = [s.seq for s in agent.outbox.pending(limit=100)]
    assert set(range(10, 20)) <= set(remaining)
    agent.outbox.close()


class _Recording:
    """A device that notes every action it is made to run."""

    model = "boiler-b1"
    firmware = "1.0"

    def __init__(self) -> None:
        self.ran: list[str] = []

    def read_metrics(self) -> dict[str, float]:
        return {"t": 1.0}

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        self.ran.append(action)
        return ActionOutcome(True, "ok")

    def facts(self) -> dict[str, Scalar]:
        return {}


SIGNER = CommandSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
"""The cloud's key, fixed so that examples replay the same."""


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    forged=st.lists(envelope_like.map(_encode) | st.binary(max_size=60), max_size=4),
    signed=st.lists(command_like, max_size=3),
)
def test_only_authentic_commands_run_and_each_ends_in_one_reported_state(
    forged: list[bytes], signed: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    """Random envelopes (what an attacker without the key can send) never run; random
    commands signed with the pinned key end in exactly one result each, or are refused
    before anything runs when their fields are bad."""
    folder = tmp_path_factory.mktemp("fuzz")
    hal = _Recording()
    settings_ = AgentSettings(
        device_id=DEVICE,
        outbox_path=":memory:",
        state_dir=folder,
        command_key=SIGNER.public_key_text,
    )
    agent = Agent(settings_, hal, ManualClock(NOW))
    authentic: list[bytes] = []
    for fields in signed:
        try:
            authentic.append(contract.encode(SIGNER.sign(Command.model_validate(fields))))
        except ValidationError:
            continue

    async def handle_all() -> tuple[int, int]:
        runs = results = 0
        for payload in forged + authentic:
            topic = contract.topic(DEVICE, Channel.COMMANDS)
            decoded = agent._accept(aiomqtt.Message(topic, payload, 1, False, 1, None))
            if isinstance(decoded, contract.SignedCommand):
                result = await agent._commands.handle(decoded)
                if result is not None:
                    assert result.state in ("done", "failed", "refused", "timed_out")
                    results += 1
                    runs += result.state == "done"
        return runs, results

    runs, results = asyncio.run(handle_all())
    assert len(hal.ran) == runs <= len(authentic), "nothing forged ever runs"
    assert results <= len(authentic)
    reported = agent.outbox.pending_reports()
    assert sum(kind == "result" for kind, _, _ in reported) <= results
    agent.outbox.close()


def test_an_ack_that_names_an_event_twice_forgets_it_once(tmp_path_factory: Any) -> None:
    """Sent again while the cloud restarted, an event can be stored and acknowledged in
    one ack that names it twice: the agent forgets it, and its session goes on."""
    agent = _agent(tmp_path_factory)
    agent.outbox.add_report("event", "e-1", b"{}")
    agent.uplink._report_sent_at[("event", "e-1")] = 0.0
    ack = contract.TelemetryAck.model_validate(
        {"v": 1, "device_id": DEVICE, "events": ["e-1", "e-1"]}
    )
    assert agent.uplink.accept_ack(ack)
    assert agent.outbox.pending_reports() == []
    agent.outbox.close()
