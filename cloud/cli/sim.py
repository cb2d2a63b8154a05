"""``aftercare sim run SCENARIO.yaml``: a simulated fleet against a broker and the cloud
behind it, with the scenario's expectations checked (see :mod:`firmware_sim.scenario`);
``aftercare sim batch``: a manufacturing batch of device identities (see
:mod:`firmware_sim.factory`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("sim", help="simulated fleets")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")
    run = sim_commands.add_parser("run", help="run a scenario file and report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--mqtt-url", help="mqtt://host:port (AFTERCARE_MQTT_URL)")
    run.add_argument(
        "--api",
        help="record the run's report in this cloud, http://host:port/api/v1 "
        "(AFTERCARE_API_URL); it shows on the cloud's /manufacturer page",
    )
    run.add_argument(
        "--token",
        help="a manufacturer (or service) token for --api (AFTERCARE_API_TOKEN); "
        "`aftercare cloud token --role manufacturer` issues one",
    )
    run.set_defaults(run=_run)
    batch = sim_commands.add_parser(
        "batch", help="make a manufacturing batch: serials, device secrets, claim codes"
    )
    batch.add_argument(
        "--model",
        required=True,
        help="device model: heatpump-hp200, an entry point name or package.module:ClassName",
    )
    batch.add_argument("--count", type=int, required=True, help="devices in the batch")
    batch.add_argument("--out", type=Path, required=True, help="batch file to write (JSON)")
    batch.set_defaults(run=_run_batch)


def _run(args: argparse.Namespace) -> int:
    """Exit 0 when every expectation held, 1 when one failed (whether or not the report
    could be recorded), 2 for a scenario or an option that cannot be used."""
    from firmware_sim.recording import run_and_record
    from firmware_sim.upload import RecordTarget

    api = args.api or os.environ.get("AFTERCARE_API_URL")
    token = args.token or os.environ.get("AFTERCARE_API_TOKEN")
    record = None
    if api:
        if not token:
            raise ValueError("recording a run needs a token: --token or AFTERCARE_API_TOKEN")
        reported_by = f"aftercare sim run on {socket.gethostname()}"
        record = RecordTarget(api, token, reported_by)
    elif args.token:
        raise ValueError("--token without --api: give --api (or AFTERCARE_API_URL) too")
    return asyncio.run(run_and_record(args.scenario, args.mqtt_url, record))


def _run_batch(args: argparse.Namespace) -> int:
    from firmware_sim.factory import generate_batch, write_batch

    batch = generate_batch(args.model, args.count)
    try:
        write_batch(batch, args.out)
    except FileExistsError:
        raise ValueError(
            f"{args.out} exists; a batch file is never overwritten (its secrets may "
            "already be in devices): choose another --out"
        ) from None
    print(
        f"wrote {len(batch.devices)} {batch.model} devices (firmware {batch.firmware}) to "
        f"{args.out}; it holds device secrets: keep it private and import it with "
        f"`aftercare cloud batch import {args.out}`"
    )
    return 0
