"""A worker's loop on a thread of its own: one round every ``poll_s`` real seconds until
stopped.

Why one place: every clock-driven worker (delivery, support, outreach planning) needs the
same guarantees: a round that raises (a bug, a database hiccup) is counted and logged with
its traceback and never ends the loop, and ``stop`` ends it after the round in progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("aftercare.cloud")


class PollingThread:
    """Runs ``round`` every ``poll_s`` seconds (less the round's own time); ``failed`` is
    called after a round that raised. ``wait_first``: the first round comes after one
    interval rather than at once."""

    def __init__(
        self,
        name: str,
        round: Callable[[], object],
        poll_s: float,
        failed: Callable[[], None],
        *,
        wait_first: bool = False,
        daemon: bool = False,
    ) -> None:
        self.name = name
        self.round = round
        self.poll_s = poll_s
        self.failed = failed
        self.wait_first = wait_first
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=daemon)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """``stop`` was called: a long round may end early."""
        return self._stopping.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        if self.wait_first and self._stopping.wait(self.poll_s):
            return
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.round()
            except Exception:
                self.failed()
                log.exception("%s round failed", self.name)
            self._stopping.wait(max(0.0, self.poll_s - (time.monotonic() - started)))
