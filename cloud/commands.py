"""``aftercare cloud serve`` and ``aftercare cloud token``."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from cloud.app import CloudService
from cloud.auth import Role, TokenStore
from cloud.db.engine import migrate, open_engine
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
