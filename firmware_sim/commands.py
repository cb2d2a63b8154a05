"""``aftercare agent run``: one real agent on a simulated device.

A real product embeds :class:`device_agent.Agent` with its own HAL; this command is the
same agent with the simulator's HAL, for trying the wire end to end.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from device_agent.agent import Agent
from device_agent.clock import SystemClock
from device_agent.settings import load_agent_settings
from firmware_sim.models import build_device


async def run_single_agent(
    config: Path | None, device_id: str | None, mqtt_url: str | None, model: str
) -> int:
    settings = load_agent_settings(config, device_id=device_id, mqtt_url=mqtt_url)
    clock = SystemClock()
    device = build_device(model, settings.device_id, clock, seed=0)
    agent = Agent(settings, device, clock)
    running = asyncio.create_task(agent.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, running.cancel)
    print(f"agent {settings.device_id} ({model}) -> {settings.mqtt_url}", flush=True)
    try:
        await running
    except asyncio.CancelledError:
        pass
    finally:
        agent.outbox.close()
    return 0
