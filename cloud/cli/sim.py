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
    run.add_argument(
        "--mqtt-url",
        "--mqtt",
        help="mqtt://host:port (AFTERCARE_MQTT_URL) of a running deployment; without it the "
        "run starts its own broker and cloud in this process (restart events need those)",
    )
    run.add_argument(
        "--api",
        help="the cloud behind the broker, http://host:port/api/v1 (AFTERCARE_API_URL): "
        "expectations about incidents and stored telemetry read it, and the run's report "
        "is recorded there (it shows on the cloud's /manufacturer page)",
    )
    run.add_argument(
        "--token",
        help="a token for --api (AFTERCARE_API_TOKEN): a manufacturer token records runs, "
        "a service token also reads incidents and telemetry; `aftercare cloud token "
        "--role service` issues one",
    )
    run.add_argument(
        "--speed",
        type=_speed,
        help="run device time this many times faster than real time (the scenario's "
        "own speed otherwise)",
    )
    run.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    run.add_argument(
        "--junit", type=Path, metavar="FILE", help="write the report as JUnit XML (for CI)"
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


SPEED_MAX = 10_000.0


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value <= SPEED_MAX:
        raise argparse.ArgumentTypeError(f"must lie in (0, {SPEED_MAX:g}], got {text}")
    return value


def _run(args: argparse.Namespace) -> int:
    """Exit 0 when every expectation held, 1 when one failed (whether or not the report
    could be recorded), 2 for a scenario or an option that cannot be used."""
    from device_agent.settings import ENV_PREFIX
    from firmware_sim.recording import ReportFiles, run_and_record
    from firmware_sim.upload import RecordTarget

    api = args.api or os.environ.get("AFTERCARE_API_URL")
    token = args.token or os.environ.get("AFTERCARE_API_TOKEN")
    reported_by = f"aftercare sim run on {socket.gethostname()}"
    record = None
    if api:
        if not token:
            raise ValueError("--api needs a token: --token or AFTERCARE_API_TOKEN")
        record = RecordTarget(api, token, reported_by)
    elif args.token:
        raise ValueError("--token without --api: give --api (or AFTERCARE_API_URL) too")
    files = ReportFiles(args.json, args.junit, reported_by)
    for path in (args.json, args.junit):
        if path is not None and not path.parent.is_dir():
            raise ValueError(f"cannot write {path}: {path.parent} is not a folder")
    mqtt_url = args.mqtt_url or os.environ.get(ENV_PREFIX + "MQTT_URL")
    if not mqtt_url:
        if record is not None:
            raise ValueError(
                "--api targets a running cloud: give its broker too (--mqtt-url or "
                "AFTERCARE_MQTT_URL), or neither to run a broker and cloud in this process"
            )
        from cloud.harness.scenario_stack import run_in_process

        return asyncio.run(run_in_process(args.scenario, speed=args.speed, files=files))
    return asyncio.run(
        run_and_record(args.scenario, mqtt_url, record, speed=args.speed, files=files)
    )


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
