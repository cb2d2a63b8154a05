"""The wire contract between device agents and the cloud: topics and payloads.

This is the only module that knows what travels over MQTT. The agent, the cloud and the
simulator all import it, so a change to the wire format is a change here and nowhere else.

Every payload carries the protocol version ``v`` and the sender's ``device_id``; the cloud
rejects a payload whose device id differs from the one in its topic. Decoding is strict:
unknown fields, NaN or infinite numbers, timestamps outside 2000..2100, oversized batches,
non-increasing sequence numbers, integers beyond 2^53 (what every JSON reader and a
BIGINT column hold exactly) and control characters in text are refused with a
:class:`ContractError` that says why.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

PROTOCOL_VERSION = 1
TOPIC_ROOT = "aftercare/v1"
PROVISION_ROOT = "aftercare/provision/v1"
"""Provisioning has a root of its own, not ``aftercare/v1/provision/...``: a device may
legitimately be called ``provision``, and its topics must never overlap a handshake's."""

MAX_PAYLOAD_BYTES = 256 * 1024
"""Larger payloads are refused before parsing; brokers must accept at least this much."""
MAX_SAMPLES_PER_BATCH = 500
MAX_METRICS_PER_SAMPLE = 64
EARLIEST_TIMESTAMP_S = 946_684_800.0  # 2000-01-01T00:00:00Z
LATEST_TIMESTAMP_S = 4_102_444_800.0  # 2100-01-01T00:00:00Z

MAX_WIRE_INT = 2**53
"""Largest integer on the wire: exact in every JSON reader and in a BIGINT column."""
MAX_DETAIL_ENTRIES = 64
_NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"

DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Timestamp = Annotated[float, Field(ge=EARLIEST_TIMESTAMP_S, le=LATEST_TIMESTAMP_S)]
Count = Annotated[int, Field(ge=0, le=MAX_WIRE_INT)]
"""A sequence number or a counter."""
ShortText = Annotated[str, StringConstraints(max_length=256, pattern=_NO_CONTROL_CHARS)]
MessageId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=_NO_CONTROL_CHARS)
]
Scalar: TypeAlias = str | int | float | bool
WireScalar: TypeAlias = (
    ShortText | Annotated[int, Field(ge=-MAX_WIRE_INT, le=MAX_WIRE_INT)] | float | bool
)
"""A :data:`Scalar` as it may travel: bounded text without control characters, bounded
integers."""
Details = Annotated[dict[ShortText, WireScalar], Field(max_length=MAX_DETAIL_ENTRIES)]


class ContractError(ValueError):
    """A message that does not follow the wire contract; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Channel(StrEnum):
    """The last part of a topic: what kind of message travels there and in which direction."""

    TELEMETRY = "telemetry"  # device -> cloud, QoS 1
    STATUS = "status"  # device -> cloud, retained; the Last Will says offline
    EVENTS = "events"  # device -> cloud, QoS 1
    COMMANDS = "commands"  # cloud -> device, QoS 1
    COMMAND_RESULT = "commands/result"  # device -> cloud, QoS 1
    ACK = "ack"  # cloud -> device, QoS 1: these telemetry samples are stored
    DIAGNOSTICS = "diagnostics"  # device -> cloud, QoS 1: a redacted support bundle


DEVICE_TO_CLOUD = (
    Channel.TELEMETRY,
    Channel.STATUS,
    Channel.EVENTS,
    Channel.COMMAND_RESULT,
    Channel.DIAGNOSTICS,
)


def topic(device_id: str, channel: Channel) -> str:
    """The topic on which ``device_id`` sends or receives ``channel`` messages."""
    return f"{TOPIC_ROOT}/{device_id}/{channel.value}"


def subscription(channel: Channel, device_id: str = "+") -> str:
    """A topic filter for ``channel``; every device's by default."""
    return topic(device_id, channel)


def parse_topic(name: str) -> tuple[str, Channel]:
    """Split a topic into (device id, channel), refusing anything outside the contract."""
    device_id, rest = _split_topic(name, TOPIC_ROOT)
    try:
        channel = Channel(rest)
    except ValueError:
        raise ContractError(f"topic {name!r} has unknown channel {rest!r}") from None
    _check_named(name, device_id)
    return device_id, channel


def _split_topic(name: str, root: str) -> tuple[str, str]:
    """(device id, what follows it) of a topic under ``root``; ContractError otherwise."""
    prefix = root + "/"
    if not name.startswith(prefix):
        raise ContractError(f"topic {name!r} is not under {root}/")
    device_id, _, rest = name[len(prefix) :].partition("/")
    return device_id, rest


def _check_named(name: str, device_id: str) -> None:
    if not device_id:
        raise ContractError(f"topic {name!r} names no device")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)

    v: Literal[1] = 1
    device_id: DeviceId


class Sample(BaseModel):
    """One reading of a device's metrics; ``seq`` numbers samples per device from 0 up."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seq: Count
    ts: Timestamp
    metrics: dict[MetricName, float]

    @field_validator("metrics")
    @classmethod
    def _bounded_metrics(cls, metrics: dict[str, float]) -> dict[str, float]:
        if not metrics:
            raise ValueError("a sample needs at least one metric")
        if len(metrics) > MAX_METRICS_PER_SAMPLE:
            raise ValueError(f"at most {MAX_METRICS_PER_SAMPLE} metrics per sample")
        return metrics


class TelemetryBatch(_Message):
    """Samples in increasing ``seq`` order. ``dropped_total`` counts samples the agent's
    outbox discarded (oldest first) because it was full while offline."""

    samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES_PER_BATCH)]
    dropped_total: Count = 0

    @field_validator("samples")
    @classmethod
    def _increasing_seq(cls, samples: list[Sample]) -> list[Sample]:
        for before, after in itertools.pairwise(samples):
            if after.seq <= before.seq:
                raise ValueError(
                    f"seq must increase within a batch ({before.seq} then {after.seq})"
                )
        return samples


class Status(_Message):
    """Retained presence; the agent's Last Will publishes ``online=False``."""

    online: bool
    ts: Timestamp
    model: ShortText | None = None
    firmware: ShortText | None = None


class Event(_Message):
    """Something the device did or learned on its own: a local self-heal, a setup fact."""

    event_id: MessageId
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
    ts: Timestamp
    detail: Details = Field(default_factory=dict)


class Command(_Message):
    """An instruction from the cloud, as the device parses it from the text a
    :class:`SignedCommand` carries: its device id, expiry and nonce are all covered by
    the signature."""

    command_id: MessageId
    action: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
    params: Details = Field(default_factory=dict)
    issued_at: Timestamp
    expires_at: Timestamp
    nonce: Annotated[MessageId, StringConstraints(min_length=8)]

    @model_validator(mode="after")
    def _expires_after_issue(self) -> Command:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self


MAX_COMMAND_TEXT = 16 * 1024


class SignedCommand(_Message):
    """What travels on the commands channel: a :class:`Command`'s exact JSON text and an
    Ed25519 signature over its UTF-8 bytes.

    Why the text and not the fields: the signature must cover the very bytes the device
    parses, so no re-serialisation (key order, float formatting) can make a valid
    signature cover something else. ``command_id`` only labels a refusal report; the
    device acts on the signed text alone.
    """

    command_id: MessageId
    command: Annotated[str, StringConstraints(max_length=MAX_COMMAND_TEXT)]
    signature: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")]
    """Base64 of the 64-byte Ed25519 signature."""


CommandState = Literal["done", "failed", "refused", "timed_out"]


class CommandResult(_Message):
    """The terminal state of a command: every command gets exactly one."""

    command_id: MessageId
    state: CommandState
    ts: Timestamp
    detail: ShortText = ""


class MetricSummary(BaseModel):
    """One metric over a recent window: how many readings, their range, mean and last."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    count: Annotated[int, Field(ge=1, le=MAX_WIRE_INT)]
    min: float
    max: float
    mean: float
    last: float


class SelfHealRecord(BaseModel):
    """One local self-heal of the device's watchdog, as it reported it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    ts: Timestamp
    event: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
    detail: Details = Field(default_factory=dict)


class LogLine(BaseModel):
    """A WARNING or worse log record of the agent, one line, at most 512 characters."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    ts: Timestamp
    level: Literal["WARNING", "ERROR", "CRITICAL"]
    logger: ShortText
    message: Annotated[str, StringConstraints(max_length=512, pattern=_NO_CONTROL_CHARS)]


MAX_DIAGNOSTIC_BYTES = 128 * 1024
"""A bundle larger than this is refused; the agent drops its oldest lines to fit."""
MAX_CONFIG_ENTRIES = 256
MAX_BUNDLE_LINES = 100


class DiagnosticBundle(_Message):
    """What a device sends when support asks (the ``collect_diagnostics`` command):
    recent telemetry, local self-heals, firmware, configuration and last errors, already
    redacted of secrets and personal data (``redacted`` counts what was withheld)."""

    bundle_id: MessageId
    request_id: MessageId
    """The support request it answers (the command's ``request_id`` parameter)."""
    ts: Timestamp
    model: ShortText
    firmware: ShortText
    window_s: Annotated[float, Field(gt=0, le=30 * 86_400.0)]
    """How far back ``telemetry`` summarises."""
    telemetry: Annotated[dict[MetricName, MetricSummary], Field(max_length=MAX_METRICS_PER_SAMPLE)]
    self_heal: Annotated[list[SelfHealRecord], Field(max_length=MAX_BUNDLE_LINES)]
    config: Annotated[dict[ShortText, WireScalar], Field(max_length=MAX_CONFIG_ENTRIES)]
    errors: Annotated[list[LogLine], Field(max_length=MAX_BUNDLE_LINES)]
    redacted: Count = 0


class TelemetryAck(_Message):
    """The cloud has durably stored every sample whose seq lies in one of ``ranges``
    (inclusive), and the events, command results and diagnostic bundles named in
    ``events``, ``results`` and ``diagnostics``. The agent keeps each of them until it is
    acknowledged. ``diagnostics`` is left out when empty, so agents that predate it
    still accept every other acknowledgement."""

    ranges: Annotated[list[tuple[Count, Count]], Field(max_length=1000)] = Field(
        default_factory=list
    )
    events: Annotated[list[MessageId], Field(max_length=1000)] = Field(default_factory=list)
    results: Annotated[list[MessageId], Field(max_length=1000)] = Field(default_factory=list)
    diagnostics: Annotated[list[MessageId], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _acknowledges_something(self) -> TelemetryAck:
        if not (self.ranges or self.events or self.results or self.diagnostics):
            raise ValueError("an acknowledgement must name samples, events or results")
        for first, last in self.ranges:
            if last < first:
                raise ValueError(f"range ({first}, {last}) ends before it starts")
        return self


Message: TypeAlias = (
    TelemetryBatch
    | Status
    | Event
    | SignedCommand
    | CommandResult
    | TelemetryAck
    | DiagnosticBundle
)

MESSAGE_TYPES: dict[Channel, type[Message]] = {
    Channel.TELEMETRY: TelemetryBatch,
    Channel.STATUS: Status,
    Channel.EVENTS: Event,
    Channel.COMMANDS: SignedCommand,
    Channel.COMMAND_RESULT: CommandResult,
    Channel.ACK: TelemetryAck,
    Channel.DIAGNOSTICS: DiagnosticBundle,
}
MAX_CHANNEL_BYTES: dict[Channel, int] = {Channel.DIAGNOSTICS: MAX_DIAGNOSTIC_BYTES}
"""Channels with a tighter payload limit than :data:`MAX_PAYLOAD_BYTES`."""


class ProvisionStep(StrEnum):
    """The four messages of provisioning, in order (see :mod:`device_agent.provisioning`)."""

    HELLO = "hello"  # device -> cloud: I am this device, challenge me
    CHALLENGE = "challenge"  # cloud -> device: a single-use, short-lived nonce
    PROOF = "proof"  # device -> cloud: HMAC over the nonce and its ephemeral key
    CREDENTIALS = "credentials"  # cloud -> device: broker credentials, sealed to that key


def provision_topic(device_id: str, step: ProvisionStep) -> str:
    return f"{PROVISION_ROOT}/{device_id}/{step.value}"


def provision_subscription(step: ProvisionStep, device_id: str = "+") -> str:
    return provision_topic(device_id, step)


def parse_provision_topic(name: str) -> tuple[str, ProvisionStep]:
    """Split a provisioning topic into (device id, step); ContractError otherwise."""
    device_id, rest = _split_topic(name, PROVISION_ROOT)
    try:
        step = ProvisionStep(rest)
    except ValueError:
        raise ContractError(f"topic {name!r} has unknown provisioning step {rest!r}") from None
    _check_named(name, device_id)
    return device_id, step


Bytes32 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
"""Base64 of exactly 32 bytes: a nonce, an X25519 public key or an HMAC-SHA256."""
MAX_SEALED_TEXT = 4096


class ProvisionHello(_Message):
    """A factory-fresh device asks to be provisioned."""


class ProvisionChallenge(_Message):
    nonce: Bytes32
    expires_at: Timestamp
    """Cloud time; the device need not trust its own clock, the cloud enforces it."""


class ProvisionProof(_Message):
    nonce: Bytes32
    device_key: Bytes32
    """The device's ephemeral X25519 public key, which the credentials are sealed to."""
    proof: Bytes32
    """HMAC-SHA256 over the nonce and ``device_key``, keyed by the secret's digest."""


class ProvisionCredentials(_Message):
    nonce: Bytes32
    """The challenge these answer, so a device can ignore stale ones."""
    cloud_key: Bytes32
    """The cloud's ephemeral X25519 public key for this one message."""
    sealed: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$", max_length=MAX_SEALED_TEXT)
    ]
    """Base64 of ChaCha20-Poly1305 ciphertext of the issued credentials (JSON)."""


ProvisionMessage: TypeAlias = (
    ProvisionHello | ProvisionChallenge | ProvisionProof | ProvisionCredentials
)

PROVISION_TYPES: dict[ProvisionStep, type[ProvisionMessage]] = {
    ProvisionStep.HELLO: ProvisionHello,
    ProvisionStep.CHALLENGE: ProvisionChallenge,
    ProvisionStep.PROOF: ProvisionProof,
    ProvisionStep.CREDENTIALS: ProvisionCredentials,
}


def decode_provision(topic_name: str, payload: bytes) -> ProvisionMessage:
    """Parse a provisioning message; raises ContractError, never anything else."""
    device_id, step = parse_provision_topic(topic_name)
    if len(payload) > MAX_SEALED_TEXT * 2:
        raise ContractError(f"provisioning payload of {len(payload)} bytes is too large")
    try:
        message = PROVISION_TYPES[step].model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(describe(exc)) from None
    if message.device_id != device_id:
        raise ContractError(
            f"payload device_id {message.device_id!r} differs from topic device {device_id!r}"
        )
    return message


def encode(message: Message | ProvisionMessage) -> bytes:
    """Serialise a message as compact JSON."""
    return message.model_dump_json(exclude_none=True).encode()


def decode(topic_name: str, payload: bytes) -> Message:
    """Parse and validate a payload received on ``topic_name``.

    Raises ContractError with a specific reason; never anything else for bad input.
    """
    device_id, channel = parse_topic(topic_name)
    limit = MAX_CHANNEL_BYTES.get(channel, MAX_PAYLOAD_BYTES)
    if len(payload) > limit:
        raise ContractError(f"payload of {len(payload)} bytes exceeds {limit}")
    try:
        message = MESSAGE_TYPES[channel].model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(describe(exc)) from None
    if message.device_id != device_id:
        raise ContractError(
            f"payload device_id {message.device_id!r} differs from topic device {device_id!r}"
        )
    return message


def describe(exc: ValidationError) -> str:
    """One line per problem: where in the payload and why."""
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def ranges_of(seqs: list[int]) -> list[tuple[int, int]]:
    """Collapse sorted, distinct sequence numbers into inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges
