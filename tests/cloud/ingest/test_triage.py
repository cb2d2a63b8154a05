"""Triage sorts every raw message into a payload or a dead letter with its reason."""

from __future__ import annotations

import json

from cloud.ingest.triage import RawMessage, triage
from device_agent import contract
from device_agent.contract import Channel

NOW = 1_750_000_000.0


def _raw(topic_name: str, payload: bytes) -> RawMessage:
    return RawMessage(topic_name, payload, NOW)


def test_valid_and_invalid_messages_are_sorted_and_nothing_is_lost() -> None:
    good = contract.TelemetryBatch(
        device_id="d1", samples=[contract.Sample(seq=0, ts=NOW, metrics={"t": 1.0})]
    )
    future = contract.TelemetryBatch(
        device_id="d1", samples=[contract.Sample(seq=1, ts=NOW + 10 * 86_400, metrics={"t": 1.0})]
    )
    ack = contract.TelemetryAck(device_id="d1", ranges=[(0, 0)])
    messages = [
        _raw(contract.topic("d1", Channel.TELEMETRY), contract.encode(good)),
        _raw(contract.topic("d1", Channel.TELEMETRY), b"\xff\xfe garbage"),
        _raw(contract.topic("d2", Channel.TELEMETRY), contract.encode(good)),
        _raw(contract.topic("d1", Channel.TELEMETRY), contract.encode(future)),
        _raw(contract.topic("d1", Channel.ACK), contract.encode(ack)),
    ]
    result = triage(messages, max_future_skew_s=86_400)
    assert len(result) == len(messages)
    assert [m.device_id for m, _ in result.telemetry] == ["d1"]
    reasons = [d.reason for d in result.dead_letters]
    assert "Invalid JSON" in reasons[0]
    assert "differs from topic device 'd2'" in reasons[1]
    assert "in the future" in reasons[2]
    assert "may not publish on the ack channel" in reasons[3]
    assert result.dead_letters[0].payload_excerpt.startswith("\\xff\\xfe garbage")


def test_oversized_payload_keeps_a_short_excerpt() -> None:
    payload = json.dumps({"blob": "x" * 300_000}).encode()
    result = triage([_raw(contract.topic("d1", Channel.EVENTS), payload)], 60)
    letter = result.dead_letters[0]
    assert "exceeds" in letter.reason
    assert letter.payload_size == len(payload)
    assert len(letter.payload_excerpt) < 600


def test_messages_of_unregistered_devices_are_counted_and_never_stored() -> None:
    """Only factory-registered devices may report: a made-up id leaves no dead letter
    either (a flood of made-up ids must not grow the database)."""
    good = contract.TelemetryBatch(
        device_id="d1", samples=[contract.Sample(seq=0, ts=NOW, metrics={"t": 1.0})]
    )
    stranger = contract.TelemetryBatch(
        device_id="x9", samples=[contract.Sample(seq=0, ts=NOW, metrics={"t": 1.0})]
    )
    messages = [
        _raw(contract.topic("d1", Channel.TELEMETRY), contract.encode(good)),
        _raw(contract.topic("x9", Channel.TELEMETRY), contract.encode(stranger)),
        _raw(contract.topic("x9", Channel.EVENTS), b"garbage"),
        _raw("not/our/topic", b"{}"),
    ]
    result = triage(messages, max_future_skew_s=86_400, registered=lambda d: d == "d1")
    assert len(result) == len(messages)
    assert [m.device_id for m, _ in result.telemetry] == ["d1"]
    assert result.unregistered == 2
    assert len(result.dead_letters) == 1, "a topic outside the contract is still a dead letter"


def _bundle(**changes: object) -> contract.DiagnosticBundle:
    fields: dict[str, object] = {
        "device_id": "d1",
        "bundle_id": "b1",
        "request_id": "5",
        "ts": NOW,
        "model": "m",
        "firmware": "1",
        "window_s": 600.0,
        "telemetry": {},
        "self_heal": [],
        "config": {"agent.telemetry_interval_s": 5.0},
        "errors": [],
    }
    fields.update(changes)
    return contract.DiagnosticBundle.model_validate(fields)


def test_bundles_are_accepted_redacted_again_and_bad_ones_become_dead_letters() -> None:
    topic = contract.topic("d1", Channel.DIAGNOSTICS)
    good = _bundle(config={"device.api_key": "sk-LEAK", "device.ok": 1})
    oversize = json.loads(contract.encode(_bundle()))
    oversize["errors"] = [{"message": "x" * 512}] * 300  # far beyond what a device sends
    malformed = json.loads(contract.encode(_bundle()))
    malformed["telemetry"] = {"temp_c": {"count": 0, "min": 1, "max": 1, "mean": 1, "last": 1}}
    messages = [
        _raw(topic, contract.encode(good)),
        _raw(topic, json.dumps(oversize).encode()),
        _raw(topic, json.dumps(malformed).encode()),
        _raw(topic, b"not json"),
        _raw(contract.topic("d2", Channel.DIAGNOSTICS), contract.encode(good)),
        _raw(topic, contract.encode(_bundle(ts=NOW + 10 * 86_400))),
    ]
    result = triage(messages, max_future_skew_s=86_400)
    assert len(result) == len(messages)
    ((stored, _),) = result.diagnostics
    assert stored.config == {"device.api_key": "[redacted:secret]", "device.ok": 1}
    assert stored.redacted == 1
    assert result.redacted_in_cloud == 1
    reasons = [d.reason for d in result.dead_letters]
    assert f"exceeds {contract.MAX_DIAGNOSTIC_BYTES}" in reasons[0]
    assert "telemetry.temp_c.count" in reasons[1]
    assert "Invalid JSON" in reasons[2]
    assert "differs from topic device 'd2'" in reasons[3]
    assert "in the future" in reasons[4]
