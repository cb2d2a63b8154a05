"""The ``aftercare`` command line. Each subcommand imports only what it needs, so
``aftercare agent run`` works on a device with just the agent installed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aftercare", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="broker + cloud + simulated fleet in one process")
    demo.add_argument("--devices", type=int, default=20, help="simulated devices (default 20)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080, 0=any)")
    demo.add_argument("--duration", type=_positive_float, help="stop after S seconds")
    demo.add_argument("--out", type=Path, help="folder for demo.json and the SQLite file")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--speed",
        type=_positive_float,
        default=60.0,
        help="device time per real second (default 60: an hour of device life a minute)",
    )
    demo.add_argument(
        "--faults-per-day",
        type=float,
        default=2.0,
        help="occasional faults per device per device-day (default 2; 0 = healthy)",
    )

    cloud = commands.add_parser("cloud", help="the cloud service")
    cloud_commands = cloud.add_subparsers(dest="cloud_command", required=True)
    serve = cloud_commands.add_parser("serve", help="ingest + API (settings from AFTERCARE_*)")
    serve.add_argument("--port", type=int, help="HTTP port (AFTERCARE_HTTP_PORT)")
    serve.add_argument("--mqtt-url", help="mqtt://host:port (AFTERCARE_MQTT_URL)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    token = cloud_commands.add_parser("token", help="issue an API token")
    token.add_argument("--role", choices=["service", "owner"], required=True)
    token.add_argument("--owner", help="owner id (for --role owner)")
    token.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    train = cloud_commands.add_parser("train", help="train fleet models from stored telemetry")
    train.add_argument("--model", help="one device model (default: every device model)")
    train.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    train.add_argument("--model-dir", help="folder for model files (AFTERCARE_MODEL_DIR)")

    agent = commands.add_parser("agent", help="the device agent")
    agent_commands = agent.add_subparsers(dest="agent_command", required=True)
    run = agent_commands.add_parser("run", help="run one agent on a simulated device")
    run.add_argument("--config", type=Path, help="TOML settings file")
    run.add_argument("--device-id", help="AFTERCARE_DEVICE_ID")
    run.add_argument("--mqtt-url", help="AFTERCARE_MQTT_URL")
    run.add_argument("--model", default="heatpump-hp200", help="simulated device model")

    detect = commands.add_parser(
        "detect", help="score a time-series CSV with the cloud's streaming detector"
    )
    detect.add_argument("input", type=Path, help="CSV with a timestamp and numeric columns")
    detect.add_argument("-o", "--output", type=Path, help="output CSV (default: stdout)")

    sim = commands.add_parser("sim", help="simulated fleets")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True)
    sim_run = sim_commands.add_parser("run", help="run a scenario file and report")
    sim_run.add_argument("scenario", type=Path)
    sim_run.add_argument("--mqtt-url", help="AFTERCARE_MQTT_URL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"aftercare: error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from cloud.demo import DemoOptions, run_demo

        options = DemoOptions(
            devices=args.devices,
            port=args.port,
            duration_s=args.duration,
            out=args.out,
            seed=args.seed,
            speed=args.speed,
            fault_rate_per_device_day=args.faults_per_day,
        )
        return asyncio.run(run_demo(options))
    if args.command == "detect":
        from cloud.detect_csv import run_detect

        return run_detect(args.input, args.output, sys.stdout)
    if args.command == "cloud":
        from cloud import commands

        if args.cloud_command == "serve":
            return asyncio.run(commands.serve(args.port, args.mqtt_url, args.database_url))
        if args.cloud_command == "train":
            return commands.train(args.model, args.database_url, args.model_dir)
        return commands.issue_token(args.role, args.owner, args.database_url)
    if args.command == "agent":
        from firmware_sim.commands import run_single_agent

        return asyncio.run(run_single_agent(args.config, args.device_id, args.mqtt_url, args.model))
    from firmware_sim.scenario import run_scenario_file

    return asyncio.run(run_scenario_file(args.scenario, args.mqtt_url))


if __name__ == "__main__":
    sys.exit(main())
