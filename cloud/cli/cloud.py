"""``aftercare cloud serve``, ``token``, ``train``, ``command-key`` and ``batch import``.

Each builds the cloud through :mod:`cloud.app` and :mod:`cloud.db.repositories`, the same
wiring the service uses, so every ``AFTERCARE_*`` setting means the same everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloud.learning import TrainingReport
    from cloud.settings import CloudSettings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cloud = commands.add_parser("cloud", help="the cloud service")
    cloud_commands = cloud.add_subparsers(dest="cloud_command", required=True, metavar="COMMAND")
    serve = cloud_commands.add_parser("serve", help="ingest + scoring + API until Ctrl-C")
    serve.add_argument("--port", type=int, help="HTTP port (AFTERCARE_HTTP_PORT)")
    serve.add_argument("--mqtt-url", help="mqtt://host:port (AFTERCARE_MQTT_URL)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    serve.set_defaults(run=_run_serve)
    token = cloud_commands.add_parser("token", help="issue an API token")
    token.add_argument(
        "--role",
        choices=["service", "owner", "manufacturer"],
        required=True,
        help="service: the whole fleet; owner: one owner's devices; manufacturer: "
        "simulation runs only (to record and read them)",
    )
    token.add_argument("--owner", help="owner id (for --role owner)")
    token.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    token.set_defaults(run=_run_token)
    train = cloud_commands.add_parser("train", help="train fleet models from stored telemetry")
    train.add_argument("--model", help="one device model (default: every device model)")
    train.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    train.add_argument("--model-dir", help="folder for model files (AFTERCARE_MODEL_DIR)")
    train.set_defaults(run=_run_train)
    key = cloud_commands.add_parser(
        "command-key", help="print the public key devices pin (creates the key if none)"
    )
    key.add_argument("--key-path", help="the private key file (AFTERCARE_COMMAND_KEY_PATH)")
    key.set_defaults(run=_run_command_key)
    batch = cloud_commands.add_parser("batch", help="manufacturing batches of devices")
    batch_commands = batch.add_subparsers(dest="batch_command", required=True, metavar="COMMAND")
    batch_import = batch_commands.add_parser(
        "import", help="register a batch file's devices (all or nothing)"
    )
    batch_import.add_argument("file", help="batch file, as `aftercare sim batch` writes it")
    batch_import.add_argument("--database-url", help="SQLAlchemy URL (AFTERCARE_DATABASE_URL)")
    batch_import.set_defaults(run=_run_batch_import)


def settings_from(**overrides: Any) -> CloudSettings:
    """Settings from ``AFTERCARE_*``, with the flags that were given on top."""
    from cloud.settings import CloudSettings

    return CloudSettings(**{k: v for k, v in overrides.items() if v is not None})


def _run_serve(args: argparse.Namespace) -> int:
    settings = settings_from(
        http_port=args.port, mqtt_url=args.mqtt_url, database_url=args.database_url
    )
    return asyncio.run(serve(settings))


async def serve(settings: CloudSettings) -> int:
    """Run the cloud until SIGINT/SIGTERM; a server that fails to start ends it at once."""
    from cloud.app import CloudService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with CloudService(settings) as cloud:
        started = asyncio.Event()
        serving = asyncio.create_task(cloud.serve(started))
        starting = asyncio.create_task(started.wait())
        await asyncio.wait([serving, starting], return_when=asyncio.FIRST_COMPLETED)
        starting.cancel()
        if not started.is_set():
            serving.result()  # raises what stopped it (a taken port, say)
            return 1
        stopping = asyncio.create_task(stop.wait())
        print(
            f"aftercare cloud: API on http://{settings.http_host}:{cloud.http_port}/api/v1; "
            f"broker {settings.mqtt_url}",
            flush=True,
        )
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        serving.cancel()
        await asyncio.gather(serving, stopping, return_exceptions=True)
    return 0


def _run_command_key(args: argparse.Namespace) -> int:
    """Print the public half of the command key: the agents' ``command_key`` setting."""
    from pathlib import Path

    from cloud.heal.signing import CommandSigner

    settings = settings_from(command_key_path=args.key_path)
    print(CommandSigner.load_or_create(Path(settings.command_key_path)).public_key_text)
    return 0


def _run_token(args: argparse.Namespace) -> int:
    """Print a new API token (shown once; only its digest is stored)."""
    from cloud.db.repositories import build_repositories, open_database
    from device_agent.clock import SystemClock

    if args.owner and args.role != "owner":
        raise ValueError(f"--owner is for --role owner; a {args.role} token has no owner")
    settings = settings_from(database_url=args.database_url)
    with open_database(settings.database_url) as engine:
        repos = build_repositories(engine, settings, SystemClock())
        print(repos.tokens.issue(args.role, owner_id=args.owner, label="cli"))
    return 0


def _run_train(args: argparse.Namespace) -> int:
    """Train fleet models now: one device model (exit 1 on not enough history) or all."""
    from cloud.db.repositories import build_repositories, open_database
    from cloud.learning import NotEnoughHistory
    from device_agent.clock import SystemClock

    settings = settings_from(database_url=args.database_url, model_dir=args.model_dir)
    with open_database(settings.database_url) as engine:
        trainer = build_repositories(engine, settings, SystemClock()).trainer
        skipped: dict[str, str] = {}
        if args.model is not None:
            try:
                reports = [trainer.train(args.model)]
            except NotEnoughHistory as exc:
                print(f"aftercare: {exc}", file=sys.stderr)
                return 1
        else:
            result = trainer.train_all()
            reports, skipped = result.reports, result.skipped
    _print_training(reports, skipped)
    return 0


def _print_training(reports: list[TrainingReport], skipped: dict[str, str]) -> None:
    for r in reports:
        print(
            f"{r.device_model}: v{r.version} from {r.samples} samples of {r.devices} "
            f"devices in {r.seconds:.2f} s; metrics {', '.join(r.metrics)}"
        )
    for reason in skipped.values():
        print(f"skipped: {reason}")
    if not reports and not skipped:
        print("no device models with telemetry yet")


def _run_batch_import(args: argparse.Namespace) -> int:
    """Validate the whole file, then register it in one transaction (the same checks as
    ``POST /api/v1/batches``)."""
    from pathlib import Path

    from pydantic import ValidationError

    from cloud.db.factory import ClaimCodeInUse, DevicesAlreadyRegistered
    from cloud.db.repositories import build_repositories, open_database
    from cloud.identity import FactoryBatch, describe_errors
    from device_agent.clock import SystemClock

    path = Path(args.file)
    try:
        batch = FactoryBatch.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid batch file: {describe_errors(exc)}") from None
    settings = settings_from(database_url=args.database_url)
    with open_database(settings.database_url) as engine:
        repos = build_repositories(engine, settings, SystemClock())
        try:
            imported = repos.factory.import_batch(batch)
        except (DevicesAlreadyRegistered, ClaimCodeInUse) as exc:
            raise ValueError(f"{path}: {exc}") from None
    print(f"imported {imported} {batch.model} devices (firmware {batch.firmware}) from {path}")
    return 0
