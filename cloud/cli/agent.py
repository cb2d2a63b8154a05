"""``aftercare agent run [--simulate MODEL]``: the product's agent, or the same agent on a
simulated device. The simulator is wired here because only the command line may import
``firmware_sim``."""

from __future__ import annotations

import argparse
import asyncio

from device_agent import cli as agent_cli


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = commands.add_parser("agent", help="the device agent")
    agent_commands = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")
    run = agent_commands.add_parser(
        "run", help="run the agent (HAL programs from the settings, or --simulate MODEL)"
    )
    agent_cli.add_run_arguments(run)
    run.add_argument(
        "--simulate",
        metavar="MODEL",
        help="drive a simulated device of this model instead of the configured HAL: a "
        "built-in id (heatpump-hp200), an aftercare.device_models entry point name or "
        "package.module:ClassName",
    )
    run.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from device_agent.clock import SystemClock
    from device_agent.command_hal import CommandHal
    from device_agent.hal import Hal

    settings = agent_cli.settings_from(args)
    clock = SystemClock()
    hal: Hal
    if args.simulate is not None:
        from firmware_sim.models import build_device

        hal = build_device(args.simulate, settings.device_id, clock, seed=0)
    else:
        hal = CommandHal.from_settings(settings)
    return asyncio.run(agent_cli.run_agent(settings, hal, clock))
