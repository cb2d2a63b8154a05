"""Part 3 of ``benchmarks/outreach.py``: support bundles from simulated devices, as the
agent assembles them and the cloud receives them.

Each device is a simulated model (``firmware_sim``) behind a real
:class:`device_agent.agent.Agent` on a manual clock, as the simulator's fleet builds it,
with secrets planted in the device's configuration and in the agent's settings. It
samples for a while (the telemetry window), its watchdog heals a dead link locally (the
self-heal history), a warning carrying a password is logged (the error ring), and then
the agent's own ``collect_diagnostics`` action answers a support request. The bundle is
taken from the agent's outbox as it would travel and passed through the cloud's
``triage``, which redacts it again on arrival. A bundle is complete when every part is
there and nothing planted got through.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cloud.ingest.triage import RawMessage, triage
from device_agent.agent import Agent
from device_agent.clock import ManualClock
from device_agent.contract import Channel, DiagnosticBundle, topic
from device_agent.diagnostics import AGENT_LOGGER
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from firmware_sim.models.registry import MODELS, build_device

PLANTED_DEVICE = {
    "wifi_psk": "PLANTED-psk-{n}-7Gq2xR",
    "api_key": "PLANTED-apikey-{n}-93kd",
    "owner_email": "planted.owner{n}@example.org",
    "installer_phone": "+44 20 7946 0{n:03d}",
}
PLANTED_AGENT_PASSWORD = "PLANTED-mqttpass-{n}-k2"
PLANTED_LOG_SECRET = "PLANTED-logpass-{n}-55"

Say = Callable[[str], None]


@dataclass(frozen=True)
class BundleCheck:
    """What one bundle had, and which planted secrets got through (none, we hope)."""

    device_id: str
    model: str
    telemetry: bool
    self_heal: bool
    identity: bool
    config: bool
    errors: bool
    redacted: bool
    leaked: tuple[str, ...]
    cloud_redacted: int

    @property
    def complete(self) -> bool:
        parts = (self.telemetry, self.self_heal, self.identity, self.config, self.errors)
        return all(parts) and self.redacted and not self.leaked and self.cloud_redacted == 0


def collect_bundles(devices: int, seed: int, start_s: float, say: Say) -> list[BundleCheck]:
    """``devices`` support requests, over every simulated model in turn."""
    models = sorted(MODELS)
    checks = []
    for n in range(devices):
        checks.append(_one(models[n % len(models)], n, seed, start_s))
        if (n + 1) % 10 == 0 or n + 1 == devices:
            say(f"support bundles: {n + 1}/{devices}")
    return checks


def _one(model: str, n: int, seed: int, start_s: float) -> BundleCheck:
    device_id = f"{model}-support-{n:04d}"
    clock = ManualClock(start_s)
    device = build_device(model, device_id, clock, seed)
    planted = {key: value.format(n=n) for key, value in PLANTED_DEVICE.items()}
    device.configure(**planted)
    password = PLANTED_AGENT_PASSWORD.format(n=n)
    settings = AgentSettings(
        device_id=device_id,
        mqtt_url="mqtt://127.0.0.1:1",
        mqtt_username=device_id,
        mqtt_password=password,
        telemetry_interval_s=60.0,
        watchdog_dead_link_s=600.0,
    )
    agent = Agent(settings, device, clock, Outbox(":memory:", 10_000), random.Random(n))
    agent.diagnostics.attach()
    try:
        bundle = asyncio.run(_run(agent, clock, n))
    finally:
        agent.diagnostics.detach()
        agent.outbox.close()
    secrets = [*planted.values(), password, PLANTED_LOG_SECRET.format(n=n)]
    return _check(bundle, device_id, model, device.firmware, secrets, start_s)


async def _run(agent: Agent, clock: ManualClock, n: int) -> bytes:
    """An hour and a half of samples (never connected: the watchdog heals the link once
    it has been dead long enough), a logged secret, then the support request."""
    for _ in range(90):
        clock.advance(60.0)
        agent.sample_once()
        await agent.heal_locally()
    logging.getLogger(AGENT_LOGGER).warning(
        "device=%s broker refused login password=%s",
        agent.device_id,
        PLANTED_LOG_SECRET.format(n=n),
    )
    outcome = agent.diagnostics.collect({"request_id": f"req-{n}"})
    if not outcome.ok:
        raise RuntimeError(f"device {agent.device_id} made no bundle: {outcome.detail}")
    payloads = [p for kind, _, p in agent.outbox.pending_reports() if kind == "diagnostics"]
    if len(payloads) != 1:
        raise RuntimeError(f"device {agent.device_id} queued {len(payloads)} bundles, not 1")
    return payloads[0]


def _check(
    payload: bytes,
    device_id: str,
    model: str,
    firmware: str,
    secrets: Sequence[str],
    start_s: float,
) -> BundleCheck:
    raw = RawMessage(topic(device_id, Channel.DIAGNOSTICS), payload, start_s + 86_400.0)
    batch = triage([raw], max_future_skew_s=300.0)
    if len(batch.diagnostics) != 1:
        reasons = [letter.reason for letter in batch.dead_letters]
        raise RuntimeError(f"the cloud refused {device_id}'s bundle: {reasons}")
    bundle: DiagnosticBundle = batch.diagnostics[0][0]
    text = json.dumps(bundle.model_dump(mode="json"))
    metrics = set(bundle.telemetry)
    config = bundle.config
    return BundleCheck(
        device_id=device_id,
        model=model,
        telemetry=bool(metrics) and all(s.count > 0 for s in bundle.telemetry.values()),
        self_heal=any(r.event for r in bundle.self_heal),
        identity=bundle.model == model and bundle.firmware == firmware,
        config=any(k.startswith("agent.") for k in config)
        and any(k.startswith("device.") for k in config),
        errors=any("password=" in line.message for line in bundle.errors),
        redacted=bundle.redacted >= len(PLANTED_DEVICE) + 1,
        leaked=tuple(s for s in secrets if s in text or s in payload.decode()),
        cloud_redacted=batch.redacted_in_cloud,
    )
