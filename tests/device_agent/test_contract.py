"""The wire contract: every message round-trips; bad payloads are refused with a reason."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_agent import contract
from device_agent.contract import Channel, ContractError

TS = 1_750_000_000.0

EXAMPLES: dict[Channel, contract.Message] = {
    Channel.TELEMETRY: contract.TelemetryBatch(
        device_id="hp-1",
        samples=[
            contract.Sample(seq=0, ts=TS, metrics={"temp_c": 21.5}),
            contract.Sample(seq=1, ts=TS + 5, metrics={"temp_c": 21.7, "power_w": 900.0}),
        ],
        dropped_total=3,
    ),
    Channel.STATUS: contract.Status(device_id="hp-1", online=True, ts=TS, model="m", firmware="1"),
    Channel.EVENTS: contract.Event(
        device_id="hp-1", event_id="e1", kind="local.restart", ts=TS, detail={"why": "watchdog"}
    ),
    Channel.COMMANDS: contract.SignedCommand(
        device_id="hp-1",
        command_id="c1",
        command=contract.Command(
            device_id="hp-1",
            command_id="c1",
            action="restart_firmware",
            params={"delay_s": 1},
            issued_at=TS,
            expires_at=TS + 60,
            nonce="n-12345678",
        ).model_dump_json(),
        signature="A" * 86 + "==",
    ),
    Channel.COMMAND_RESULT: contract.CommandResult(
        device_id="hp-1", command_id="c1", state="done", ts=TS, detail="ok"
    ),
    Channel.ACK: contract.TelemetryAck(device_id="hp-1", ranges=[(0, 1)], diagnostics=["b1"]),
    Channel.DIAGNOSTICS: contract.DiagnosticBundle(
        device_id="hp-1",
        bundle_id="b1",
        request_id="17",
        ts=TS,
        model="heatpump-hp200",
        firmware="2.4.1",
        window_s=3600.0,
        telemetry={
            "temp_c": contract.MetricSummary(count=3, min=20.5, max=22.0, mean=21.2, last=21.0)
        },
        self_heal=[contract.SelfHealRecord(ts=TS, event="self_heal.dead_link", detail={"n": 1})],
        config={"agent.telemetry_interval_s": 5.0, "device.wifi_psk": "[redacted:secret]"},
        errors=[contract.LogLine(ts=TS, level="WARNING", logger="aftercare.agent", message="x")],
        redacted=1,
    ),
}


@pytest.mark.parametrize("channel", list(Channel))
def test_every_message_type_round_trips(channel: Channel) -> None:
    message = EXAMPLES[channel]
    decoded = contract.decode(contract.topic("hp-1", channel), contract.encode(message))
    assert decoded == message
    assert json.loads(contract.encode(message))["v"] == contract.PROTOCOL_VERSION


def _telemetry(**changes: object) -> bytes:
    body = json.loads(contract.encode(EXAMPLES[Channel.TELEMETRY]))
    body.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "Invalid JSON"),
        (_telemetry(extra_field=1), "extra_field: Extra inputs are not permitted"),
        (_telemetry(v=2), "v: Input should be 1"),
        (_telemetry(device_id="other"), "differs from topic device"),
        (_telemetry(samples=[]), "samples: List should have at least 1 item"),
        (
            _telemetry(samples=[{"seq": 0, "ts": TS, "metrics": {"t": "hot"}}]),
            "samples.0.metrics.t: Input should be a valid number",
        ),
        (
            _telemetry(samples=[{"seq": 0, "ts": 12.0, "metrics": {"t": 1.0}}]),
            "samples.0.ts: Input should be greater than or equal",
        ),
        (
            _telemetry(samples=[{"seq": 0, "ts": TS, "metrics": {"t": math.nan}}]),
            "finite number",
        ),
        (
            _telemetry(samples=[{"seq": 0, "ts": TS, "metrics": {"t": math.inf}}]),
            "finite number",
        ),
        (
            _telemetry(
                samples=[
                    {"seq": 4, "ts": TS, "metrics": {"t": 1.0}},
                    {"seq": 4, "ts": TS, "metrics": {"t": 1.0}},
                ]
            ),
            "seq must increase",
        ),
        (
            _telemetry(samples=[{"seq": i, "ts": TS, "metrics": {"t": 1.0}} for i in range(501)]),
            "at most 500 items",
        ),
        (b"x" * (contract.MAX_PAYLOAD_BYTES + 1), "exceeds"),
    ],
)
def test_bad_telemetry_is_refused_with_a_specific_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as refused:
        contract.decode(contract.topic("hp-1", Channel.TELEMETRY), payload)
    assert reason in refused.value.reason


@pytest.mark.parametrize(
    "topic_name",
    ["other/v1/hp-1/telemetry", "aftercare/v1/hp-1/nonsense", "aftercare/v1//telemetry"],
)
def test_topics_outside_the_contract_are_refused(topic_name: str) -> None:
    with pytest.raises(ContractError):
        contract.decode(topic_name, contract.encode(EXAMPLES[Channel.TELEMETRY]))


def test_command_must_expire_after_it_is_issued() -> None:
    with pytest.raises(ValueError, match="expires_at must be after issued_at"):
        contract.Command(
            device_id="d", command_id="c", action="a", issued_at=TS, expires_at=TS, nonce="12345678"
        )


@given(st.lists(st.integers(0, 10_000), unique=True))
def test_ranges_cover_exactly_the_sequence_numbers(seqs: list[int]) -> None:
    ranges = contract.ranges_of(sorted(seqs))
    covered = [seq for first, last in ranges for seq in range(first, last + 1)]
    assert covered == sorted(seqs)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(ranges))


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True), st.sampled_from(Channel))
def test_topic_parsing_inverts_topic_building(device_id: str, channel: Channel) -> None:
    assert contract.parse_topic(contract.topic(device_id, channel)) == (device_id, channel)


def test_an_acknowledgement_without_bundles_leaves_the_field_out() -> None:
    """Agents that predate diagnostics refuse unknown fields: an ack naming no bundle
    must look exactly as it did before."""
    ack = contract.TelemetryAck(device_id="hp-1", ranges=[(0, 1)])
    assert "diagnostics" not in json.loads(contract.encode(ack))


def test_an_oversized_bundle_is_refused_before_parsing() -> None:
    bundle = EXAMPLES[Channel.DIAGNOSTICS]
    assert isinstance(bundle, contract.DiagnosticBundle)
    payload = contract.encode(bundle).replace(b'"x"', b'"' + b"y" * 200_000 + b'"')
    with pytest.raises(ContractError, match=f"exceeds {contract.MAX_DIAGNOSTIC_BYTES}"):
        contract.decode(contract.topic("hp-1", Channel.DIAGNOSTICS), payload)
