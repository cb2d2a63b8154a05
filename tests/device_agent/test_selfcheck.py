"""The agent's setup reports: facts and self-checks on first boot (once, remembered in
its state file) and after a reset, in what the wire accepts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from pathlib import Path

from device_agent import contract
from device_agent.agent import Agent
from device_agent.clock import ManualClock
from device_agent.command_hal import CommandHal
from device_agent.contract import Scalar
from device_agent.hal import ActionOutcome
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from firmware_sim.models import build_device

T0 = 1_750_000_000.0


def setup_events(outbox: Outbox) -> list[contract.Event]:
    found = []
    for kind, _, payload in outbox.pending_reports():
        if kind == "event":
            event = contract.Event.model_validate(json.loads(payload))
            if event.kind.startswith("setup."):
                found.append(event)
    return found


def agent_for(hal: object, outbox: Outbox, device_id: str = "dev-1") -> Agent:
    settings = AgentSettings(device_id=device_id, mqtt_url="mqtt://127.0.0.1:9")
    return Agent(settings, hal, ManualClock(T0), outbox)  # type: ignore[arg-type]


async def boot(agent: Agent) -> None:
    """Start the agent (its broker is unreachable) long enough to boot, then stop it."""
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_first_boot_reports_facts_and_checks_once_and_a_reset_checks_again(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    device = build_device("evcharger-ec11", "evcharger-ec11-00000", clock, seed=1)
    device.install_badly("placement")
    path = tmp_path / "state.db"
    with Outbox(path) as outbox:
        agent = agent_for(device, outbox, device.device_id)
        await boot(agent)
        facts, checks = setup_events(outbox)
        assert facts.kind == "setup.facts"
        assert facts.detail["model"] == "evcharger-ec11"
        assert facts.detail["trigger"] == "first_boot"
        assert checks.kind == "setup.self_check"
        assert checks.detail["network"] == "ok"
        assert (
            checks.detail["placement"]
            == "failed: no protective earth detected: charging is disabled"
        )

    with Outbox(path) as outbox:  # a restart is not a first boot
        agent = agent_for(device, outbox, device.device_id)
        await boot(agent)
        assert len(setup_events(outbox)) == 2

        device.fix_installation()
        await agent._run_locally("restart_firmware")  # the watchdog's reset
        rerun = setup_events(outbox)[-1]
        assert rerun.detail["trigger"] == "reset"
        assert rerun.detail["placement"] == "ok"
        agent.check_setup()  # the product says it was reset (a button)
        assert len(setup_events(outbox)) == 6


class StrangeHal:
    """A product whose facts and checks do not all fit the wire."""

    model = "toaster-t1"
    firmware = "1.0"

    def read_metrics(self) -> dict[str, float]:
        return {"temp_c": 20.0}

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        return ActionOutcome(ok=True)

    def facts(self) -> dict[str, Scalar]:
        many: dict[str, Scalar] = {f"fact_{i}": i for i in range(100)}
        return {"serial": "x\x00y" * 200, "infinite": float("inf"), **many}

    def self_checks(self) -> dict[str, tuple[bool, str]]:
        raise RuntimeError("sensor bus busy")


def test_what_does_not_fit_the_wire_is_cut_and_a_crashing_self_check_is_a_failure() -> None:
    with Outbox() as outbox:
        agent = agent_for(StrangeHal(), outbox)
        assert len(agent.check_setup("first_boot")) == 2
        facts, checks = setup_events(outbox)
        assert len(facts.detail) == contract.MAX_DETAIL_ENTRIES
        assert facts.detail["serial"] == ("xy" * 200)[:256]
        assert "infinite" not in facts.detail
        assert facts.detail["omitted"] == 100 - (contract.MAX_DETAIL_ENTRIES - 3) + 1
        assert checks.detail["self_checks"] == "failed: RuntimeError: sensor bus busy"
        assert agent.stats.setup_report_errors == 0


def test_a_hal_without_self_checks_reports_its_facts_only() -> None:
    hal = CommandHal("toaster-t1", "1.0", ["true"], None, 5.0)
    with Outbox() as outbox:
        agent = agent_for(hal, outbox)
        assert len(agent.check_setup("first_boot")) == 1
        assert [e.kind for e in setup_events(outbox)] == ["setup.facts"]
