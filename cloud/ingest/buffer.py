"""The bounded hand-over between paho's network thread and the ingest writer.

Bounded in bytes as well as in messages: payloads range from a few bytes to 256 KiB, so a
count alone would let a burst of large batches take gigabytes. A full buffer blocks the
network thread, which stops reading the socket: the broker then holds (or sheds, by its
own limits) what it cannot deliver, and nothing grows here. That is the back-pressure.
"""

from __future__ import annotations

import collections
import threading
import time

from cloud.ingest.triage import RawMessage


class IngestBuffer:
    """FIFO of raw messages; ``put`` blocks while full, ``take`` gathers a batch."""

    def __init__(self, max_bytes: int, max_messages: int) -> None:
        if max_bytes < 1 or max_messages < 1:
            raise ValueError("an ingest buffer needs room for at least one message")
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self._items: collections.deque[RawMessage] = collections.deque()
        self._bytes = 0
        self._lock = threading.Condition()
        self.blocked_puts = 0
        """How often the network thread had to wait for room (back-pressure applied)."""
        self._in_hand = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def unfinished(self) -> int:
        """Messages waiting, plus those of the batch taken and not yet ``finished``: a
        reader that sees 0 knows every message received so far is written."""
        with self._lock:
            return len(self._items) + self._in_hand

    def finished(self) -> None:
        """The batch last taken is dealt with (stored, refused or failed)."""
        with self._lock:
            self._in_hand = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, message: RawMessage) -> None:
        """Append, waiting while the buffer is full. A message larger than the whole
        budget is let in alone, so it is never stuck."""
        size = len(message.payload)
        with self._lock:
            if self._full(size):
                self.blocked_puts += 1
                while self._full(size):
                    self._lock.wait()
            self._items.append(message)
            self._bytes += size
            self._lock.notify_all()

    def _full(self, size: int) -> bool:
        if not self._items:
            return False
        return len(self._items) >= self.max_messages or self._bytes + size > self.max_bytes

    def take(self, max_messages: int, linger_s: float) -> list[RawMessage]:
        """Up to ``max_messages``: waits at most ``linger_s`` for the first, then as long
        again for more to join the batch. Returns [] when nothing came."""
        deadline = time.monotonic() + linger_s
        with self._lock:
            if not self._items:
                self._lock.wait(linger_s)
                if not self._items:
                    return []
                deadline = time.monotonic() + linger_s
            while len(self._items) < max_messages:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._lock.wait(remaining):
                    break
            taken = [self._items.popleft() for _ in range(min(max_messages, len(self._items)))]
            self._in_hand = len(taken)
            self._bytes -= sum(len(m.payload) for m in taken)
            self._lock.notify_all()
            return taken
