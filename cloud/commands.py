"""``aftercare cloud serve``, ``aftercare cloud token`` and ``aftercare cloud train``."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from cloud.app import CloudService
from cloud.auth import Role, TokenStore
from cloud.db.engine import migrate, open_engine
from cloud.learning import FleetHistory, ModelRegistry, NotEnoughHistory, Trainer
from cloud.settings import CloudSettings
from device_agent.clock import SystemClock


def _settings(**overrides: Any) -> CloudSettings:
    return CloudSettings(**{k: v for k, v in overrides.items() if v is not None})


async def serve(port: int | None, mqtt_url: str | None, database_url: str | None) -> int:
    """Run ingest and the API until SIGINT/SIGTERM."""
    settings = _settings(http_port=port, mqtt_url=mqtt_url, database_url=database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with CloudService(settings) as cloud:
        started = asyncio.Event()
        serving = asyncio.create_task(cloud.serve(started))
        await started.wait()
        print(
            f"aftercare cloud: API on http://{settings.http_host}:{cloud.http_port}/api/v1; "
            f"broker {settings.mqtt_url}",
            flush=True,
        )
        await stop.wait()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    return 0


def issue_token(role: Role, owner: str | None, database_url: str | None) -> int:
    """Print a new API token (shown once; only its digest is stored)."""
    settings = _settings(database_url=database_url)
    engine = open_engine(settings.database_url)
    try:
        migrate(engine)
        print(TokenStore(engine, SystemClock()).issue(role, owner_id=owner, label="cli"))
    finally:
        engine.dispose()
    return 0


def train(device_model: str | None, database_url: str | None, model_dir: str | None) -> int:
    """Train fleet models now: one device model (exit 1 on not enough history) or all."""
    settings = _settings(database_url=database_url, model_dir=model_dir)
    engine = open_engine(settings.database_url)
    try:
        migrate(engine)
        clock = SystemClock()
        trainer = Trainer(
            FleetHistory(engine),
            ModelRegistry(engine, settings.model_dir, clock),
            clock,
            window_s=settings.train_window_s,
            max_samples=settings.train_max_samples,
        )
        if device_model is not None:
            try:
                reports = [trainer.train(device_model)]
            except NotEnoughHistory as exc:
                print(f"aftercare: {exc}", file=sys.stderr)
                return 1
            skipped: dict[str, str] = {}
        else:
            result = trainer.train_all()
            reports, skipped = result.reports, result.skipped
        for r in reports:
            print(
                f"{r.device_model}: v{r.version} from {r.samples} samples of {r.devices} "
                f"devices in {r.seconds:.2f} s; metrics {', '.join(r.metrics)}"
            )
        for reason in skipped.values():
            print(f"skipped: {reason}")
        if not reports and not skipped:
            print("no device models with telemetry yet")
    finally:
        engine.dispose()
    return 0
