"""Whether the device's network is usable, as the product itself knows it.

A product feeds this from its connectivity manager (modem detached, Wi-Fi lost); the
simulator feeds it from its flapping-link fault. While the link is down the agent keeps
sampling into its outbox and makes no connection attempts; the moment it goes down the
agent cuts its socket without a goodbye, so the broker sees what it would see on a real
radio loss and publishes the Last Will.
"""

from __future__ import annotations

import asyncio


class Link:
    """Up until told otherwise. Belongs to one event loop, like the agent."""

    def __init__(self) -> None:
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._up.set()

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    def set(self, up: bool) -> None:
        """Report the link's state; repeating the current state changes nothing."""
        if up:
            self._down.clear()
            self._up.set()
        else:
            self._up.clear()
            self._down.set()

    async def wait_up(self) -> None:
        await self._up.wait()

    async def wait_down(self) -> None:
        await self._down.wait()
