"""``aftercare agent run``: the agent as a product runs it, until SIGINT or SIGTERM.

The HAL is the :class:`~device_agent.command_hal.CommandHal` configured in the settings;
``--simulate MODEL`` swaps in a simulated device, which the top-level command line wires
(the agent never imports the simulator).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from device_agent.clock import Clock, SystemClock
from device_agent.hal import Hal
from device_agent.settings import AgentSettings, load_agent_settings


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", type=Path, help="TOML settings file")
    run.add_argument("--device-id", help="this device's id (AFTERCARE_DEVICE_ID)")
    run.add_argument("--mqtt-url", help="mqtt://host:port (AFTERCARE_MQTT_URL)")
    run.add_argument(
        "--command-key",
        help="the cloud's public command key, base64 (AFTERCARE_COMMAND_KEY); "
        "without one no command runs",
    )


def settings_from(args: argparse.Namespace) -> AgentSettings:
    """Settings from --config, ``AFTERCARE_*`` and flags; raises SettingsError in one line."""
    return load_agent_settings(
        args.config, device_id=args.device_id, mqtt_url=args.mqtt_url, command_key=args.command_key
    )


async def run_agent(settings: AgentSettings, hal: Hal, clock: Clock | None = None) -> int:
    """Run one agent until SIGINT/SIGTERM; its outbox is closed on the way out."""
    from device_agent.agent import Agent

    agent = Agent(settings, hal, clock or SystemClock())
    running = asyncio.create_task(agent.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, running.cancel)
    print(f"agent {settings.device_id} ({hal.model}) -> {settings.mqtt_url}", flush=True)
    try:
        await running
    except asyncio.CancelledError:
        pass
    finally:
        agent.outbox.close()
    return 0
