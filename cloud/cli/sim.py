"""``aftercare sim run SCENARIO.yaml``: a simulated fleet against a broker and the cloud
behind it, with the scenario's expectations checked (see :mod:`firmware_sim.scenario`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("sim", help="simulated fleets")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")
    run = sim_commands.add_parser("run", help="run a scenario file and report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--mqtt-url", help="mqtt://host:port (AFTERCARE_MQTT_URL)")
    run.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from firmware_sim.scenario import run_scenario_file

    return asyncio.run(run_scenario_file(args.scenario, args.mqtt_url))
