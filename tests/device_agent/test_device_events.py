"""Events a HAL notices on its own (``ReportsEvents``): reported by the agent after a
reading, durably, once each, with the device time they happened."""

from __future__ import annotations

import json

from device_agent import contract
from device_agent.agent import Agent
from device_agent.clock import ManualClock
from device_agent.hal import DeviceEvent
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from firmware_sim import Fault
from firmware_sim.models import build_device

T0 = 1_750_000_000.0


def events(outbox: Outbox) -> list[contract.Event]:
    return [
        contract.Event.model_validate(json.loads(payload))
        for kind, _, payload in outbox.pending_reports()
        if kind == "event"
    ]


def test_a_failed_part_is_reported_once_with_its_failure_time() -> None:
    clock = ManualClock(T0)
    device = build_device("heatpump-hp200", "hp-1", clock, seed=1)
    device.inject(Fault.from_signature("wear-out/compressor", T0 + 600, duration_s=7_200))
    settings = AgentSettings(device_id="hp-1", mqtt_url="mqtt://127.0.0.1:9")
    with Outbox() as outbox:
        agent = Agent(settings, device, clock, outbox)
        for _ in range(30):
            clock.advance(300)
            agent.sample_once()
        (event,) = events(outbox)
        assert event.kind == "part_failed"
        assert event.ts == T0 + 600 + 7_200
        assert event.detail["signature"] == "wear-out/compressor"
        assert agent.stats.samples_taken == 30


class NoisyHal:
    """A HAL whose first event has a kind the wire refuses."""

    model = "toaster-t1"
    firmware = "1.0"

    def __init__(self) -> None:
        self.pending = [DeviceEvent("Bad Kind!", T0, {}), DeviceEvent("door.opened", T0, {})]

    def read_metrics(self) -> dict[str, float]:
        return {"temp_c": 20.0}

    def take_events(self) -> list[DeviceEvent]:
        taken, self.pending = self.pending, []
        return taken


def test_an_event_the_wire_refuses_is_counted_and_the_rest_still_go() -> None:
    settings = AgentSettings(device_id="t-1", mqtt_url="mqtt://127.0.0.1:9")
    with Outbox() as outbox:
        agent = Agent(settings, NoisyHal(), ManualClock(T0), outbox)  # type: ignore[arg-type]
        agent.sample_once()
        agent.sample_once()
        assert [e.kind for e in events(outbox)] == ["door.opened"]
        assert agent.stats.event_report_errors == 1
        assert agent.stats.samples_taken == 2
