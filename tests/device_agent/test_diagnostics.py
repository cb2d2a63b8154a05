"""The agent's diagnostic bundle: assembled from what it recorded, redacted before it
leaves, bounded in size, and collected only for an authentic, signed command."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from cloud.heal.signing import CommandSigner
from device_agent import contract
from device_agent.agent import Agent
from device_agent.clock import ManualClock
from device_agent.contract import MAX_DIAGNOSTIC_BYTES, DiagnosticBundle, LogLine, SignedCommand
from device_agent.diagnostics import (
    COLLECT_DIAGNOSTICS,
    BundleParts,
    ErrorRing,
    TelemetryWindow,
    assemble,
    summarise,
)
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from firmware_sim.models import build_device

T0 = 1_750_000_000.0
DEVICE = "heatpump-hp200-00007"


@pytest.fixture
def signer(tmp_path: Path) -> CommandSigner:
    return CommandSigner.load_or_create(tmp_path / "key.pem")


def _agent(signer: CommandSigner, clock: ManualClock) -> Agent:
    settings = AgentSettings(
        device_id=DEVICE,
        command_key=signer.public_key_text,
        mqtt_password="PLANTED-mqtt-password",
        watchdog=False,
    )
    device = build_device("heatpump-hp200", DEVICE, clock, 1, None)
    device.configure(wifi_psk="PLANTED-wifi", installer_email="fitter@example.com")
    return Agent(settings, device, clock, Outbox(":memory:"))


def _bundles(agent: Agent) -> list[DiagnosticBundle]:
    return [
        DiagnosticBundle.model_validate_json(payload)
        for kind, _, payload in agent.outbox.pending_reports()
        if kind == "diagnostics"
    ]


async def test_a_signed_request_yields_one_redacted_bundle_and_a_done_result(
    signer: CommandSigner,
) -> None:
    clock = ManualClock(T0)
    agent = _agent(signer, clock)
    for _ in range(5):
        agent.sample_once()
        clock.advance(60)
    signed = signer.issue(DEVICE, COLLECT_DIAGNOSTICS, {"request_id": "42"}, now=clock.now())
    result = await agent._commands.handle(signed)
    assert result is not None
    assert result.state == "done", result
    (bundle,) = _bundles(agent)
    assert bundle.request_id == "42"
    assert bundle.model == "heatpump-hp200"
    assert {s.count for s in bundle.telemetry.values()} == {5}
    text = contract.encode(bundle).decode()
    for secret in ("PLANTED-mqtt-password", "PLANTED-wifi", "fitter@example.com"):
        assert secret not in text
    assert bundle.config["agent.mqtt_password"] == "[redacted:secret]"
    assert bundle.config["device.wifi_psk"] == "[redacted:secret]"
    assert bundle.config["agent.device_id"] == DEVICE
    assert bundle.redacted >= 3
    assert f"bundle {bundle.bundle_id}" in result.detail


async def test_collect_diagnostics_cannot_be_triggered_unsigned_or_tampered(
    signer: CommandSigner,
) -> None:
    clock = ManualClock(T0)
    agent = _agent(signer, clock)
    signed = signer.issue(DEVICE, COLLECT_DIAGNOSTICS, {"request_id": "1"}, now=clock.now())
    unsigned = signed.model_copy(update={"signature": base64.b64encode(bytes(64)).decode()})
    tampered = SignedCommand(
        device_id=DEVICE,
        command_id="tampered",
        command=signed.command.replace('"request_id":"1"', '"request_id":"2"'),
        signature=signed.signature,
    )
    assert tampered.command != signed.command
    for forged in (unsigned, tampered):
        assert await agent._commands.handle(forged) is None  # not authentic: no result
    assert _bundles(agent) == [], "nothing was collected"
    assert agent.stats.refused_commands == 2


async def test_a_request_without_its_id_fails_and_sends_nothing(signer: CommandSigner) -> None:
    clock = ManualClock(T0)
    agent = _agent(signer, clock)
    signed = signer.issue(DEVICE, COLLECT_DIAGNOSTICS, {}, now=clock.now())
    result = await agent._commands.handle(signed)
    assert result is not None
    assert (result.state, result.detail) == (
        "failed",
        "collect_diagnostics needs a request_id parameter",
    )
    assert _bundles(agent) == []


def test_the_error_ring_keeps_this_devices_warnings_only() -> None:
    clock = ManualClock(T0)
    ring = ErrorRing("dev-a", clock, max_records=3)
    log = logging.getLogger("aftercare.agent.test-ring")
    log.addHandler(ring)
    try:
        log.info("device=dev-a below the level")
        log.warning("device=dev-b not mine")
        log.warning("device=dev-a\nmine with a newline")
        log.error("no device named: everyone's")
        for n in range(3):
            log.warning("device=dev-a again %d", n)
    finally:
        log.removeHandler(ring)
    lines = ring.lines()
    assert [line.message for line in lines] == [f"device=dev-a again {n}" for n in range(3)]
    ring2 = ErrorRing("dev-a", clock)
    log.addHandler(ring2)
    try:
        log.warning("device=dev-a\nmine with a newline")
    finally:
        log.removeHandler(ring2)
    assert ring2.lines()[0].message == "device=dev-a mine with a newline"


def test_a_bundle_is_fitted_under_the_wire_limit_dropping_the_oldest_lines() -> None:
    window = TelemetryWindow(window_s=600)
    window.add(T0 - 1200, {"temp_c": 99.0})  # outside the window
    window.add(T0 - 10, {"temp_c": 20.0, "power_w": 900.0})
    lines = [
        LogLine(ts=T0, level="ERROR", logger="aftercare.agent", message=f"{n:03d} " + "x" * 500)
        for n in range(100)
    ]
    parts = BundleParts(
        device_id="d1",
        request_id="7",
        now=T0,
        model="m",
        firmware="1",
        window=window,
        self_heal=[],
        errors=lines,
        config={f"agent.setting_{n}": "y" * 250 for n in range(256)},
    )
    bundle = assemble(parts)
    assert len(contract.encode(bundle)) <= MAX_DIAGNOSTIC_BYTES
    assert bundle.errors == [] or bundle.errors[-1].message.startswith("099"), "newest kept"
    assert bundle.telemetry["temp_c"].count == 1, "readings outside the window are gone"
    contract.decode(contract.topic("d1", contract.Channel.DIAGNOSTICS), contract.encode(bundle))


def test_summaries_count_range_mean_and_last() -> None:
    stats = summarise([(1.0, {"a": 1.0}), (2.0, {"a": 3.0, "b": float("nan")}), (3.0, {"a": 2.0})])
    assert stats["a"].model_dump() == {"count": 3, "min": 1.0, "max": 3.0, "mean": 2.0, "last": 2.0}
    assert "b" not in stats
