"""Live updates for the pages: one reader of the database's changes per API process,
fanned out to every open event stream.

Pages never poll whole lists: they load once, then apply the changes pushed to them. The
workers may run in other processes, so the changes are read from the database (about
once a second, and only while someone listens), not taken from an in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from cloud.db.changes import Change, ChangeKind, ChangeReader
from cloud.db.tokens import Principal

log = logging.getLogger("aftercare.api.live")

QUEUE_LIMIT = 1000
"""Changes kept for one slow listener; past it, the listener is told to reload."""


SIM_KINDS: frozenset[ChangeKind] = frozenset({"sim_run"})
"""Changes about simulated fleets: for the service team and manufacturers, never owners."""


@dataclass(frozen=True)
class Audience:
    """Who listens: the service team sees every change, an owner only their own, a
    manufacturer only simulation runs (nothing of the real fleet)."""

    owner_id: str | None
    """None for the service team and manufacturers."""
    manufacturer: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Audience:
        if principal.role == "manufacturer":
            return cls(None, manufacturer=True)
        if principal.role == "owner":
            if principal.owner_id is None:  # Principal forbids it; never read it as staff
                raise ValueError("an owner principal without an owner_id")
            return cls(principal.owner_id)
        return cls(None)

    def may_see(self, change: Change, owned: frozenset[str]) -> bool:
        if change.kind in SIM_KINDS:
            return self.owner_id is None
        if self.manufacturer:
            return False
        if self.owner_id is None:
            return True
        if change.owner_id is not None:
            return change.owner_id == self.owner_id
        return change.device_id is not None and change.device_id in owned


def sse_frame(event: str, data: object, event_id: int | None = None) -> bytes:
    """One server-sent event; the data is one line of JSON."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n\n").encode()


KEEPALIVE = b": keepalive\n\n"


Live = tuple[Change, object]
"""A change and what its event says (built once, whoever listens)."""


class LiveHub:
    """Reads changes while at least one stream is open, describes each once (``describe``:
    the event's data, None to leave it out) and hands it to every stream's queue.
    ``close`` ends every stream (the server is stopping)."""

    def __init__(
        self,
        reader: ChangeReader,
        poll_s: float = 1.0,
        describe: Callable[[Change], object | None] | None = None,
    ) -> None:
        self.reader = reader
        self.poll_s = poll_s
        self.describe = describe or (lambda change: change.data)
        self._queues: set[asyncio.Queue[Live | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.failed_reads = 0

    @property
    def listeners(self) -> int:
        return len(self._queues)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Live | None]]:
        queue: asyncio.Queue[Live | None] = asyncio.Queue(QUEUE_LIMIT)
        if self._closed:
            queue.put_nowait(None)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="live-changes")
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def close(self) -> None:
        self._closed = True
        for queue in list(self._queues):
            self._offer(queue, None)
        if self._task is not None:
            self._task.cancel()

    async def _poll(self) -> None:
        while self._queues and not self._closed:
            try:
                described = await asyncio.to_thread(self._read)
            except Exception:
                self.failed_reads += 1
                log.exception("reading changes for live updates failed; retrying")
                described = []
            for live in described:
                for queue in list(self._queues):
                    self._offer(queue, live)
            await asyncio.sleep(self.poll_s)

    def _read(self) -> list[Live]:
        described = ((change, self.describe(change)) for change in self.reader.read())
        return [(change, data) for change, data in described if data is not None]

    @staticmethod
    def _offer(queue: asyncio.Queue[Live | None], item: Live | None) -> None:
        """A full queue is a listener too slow to follow: it gets an end marker, and the
        page reloads what it shows and listens again."""
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            queue.put_nowait(None)
