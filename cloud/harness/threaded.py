"""A :class:`LocalStack` for synchronous code: the stack runs on a background thread
with its own event loop, and every helper here blocks until the loop has done its part.
This is what the pytest fixtures hand to a plain ``def test_...``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from cloud.harness.options import StackOptions
from cloud.harness.stack import STOP_TIMEOUT_S, LocalStack, StackNotRunning
from cloud.harness.waiting import Incident
from firmware_sim.faults import Fault

T = TypeVar("T")


class ThreadedStack:
    """``with ThreadedStack(StackOptions(devices=2)) as stack: stack.wait_for_incident(...)``.

    Thread-safe: each call is carried out on the stack's loop. Leaving the block stops
    the stack and joins its thread; an error while starting is raised from ``with``.
    """

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stack: LocalStack | None = None
        self._thread = threading.Thread(target=self._run, name="aftercare-stack", daemon=True)

    def __enter__(self) -> ThreadedStack:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STOP_TIMEOUT_S * 2)
        if self._thread.is_alive():
            raise RuntimeError("the aftercare stack did not stop; its thread still runs")
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as failure:  # handed to the caller's thread, raised there
            self._failure = failure
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with LocalStack(self.options) as stack:
            self._stack, self._loop = stack, asyncio.get_running_loop()
            self._ready.set()
            await self._stop.wait()
        self._stack = None

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        if self._loop is None or self._stack is None:
            work.close()
            raise StackNotRunning("the stack is not running: use it inside `with`")
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result()

    @property
    def stack(self) -> LocalStack:
        """The asynchronous stack (its objects live on the stack's loop: read, not drive)."""
        if self._stack is None:
            raise StackNotRunning("the stack is not running: use it inside `with`")
        return self._stack

    @property
    def api(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``."""
        return self.stack.api

    @property
    def service_token(self) -> str:
        return self.stack.service_token

    @property
    def device_ids(self) -> list[str]:
        return self.stack.device_ids

    def device_time(self) -> float:
        """Now on the shared clock (epoch seconds of device time)."""
        return self.stack.device_time()

    def inject(
        self,
        device_id: str,
        signature: str,
        magnitude: float = 1.0,
        duration_s: float | None = None,
    ) -> Fault:
        """A fault on one device from now on (see :meth:`LocalStack.inject`)."""

        async def inject() -> Fault:
            return self.stack.inject(device_id, signature, magnitude, duration_s)

        return self._call(inject())

    def get(self, path: str, **query: str) -> Any:
        """``GET {api}{path}`` with the service token; the JSON it answered."""
        return self._call(self.stack.get(path, **query))

    def incidents(
        self, signature: str | None = None, device_id: str | None = None
    ) -> list[Incident]:
        return self._call(self.stack.incidents(signature, device_id))

    def wait_for_incident(
        self, signature: str, device_id: str | None = None, timeout_s: float = 30.0
    ) -> Incident:
        """See :meth:`LocalStack.wait_for_incident`."""
        return self._call(self.stack.wait_for_incident(signature, device_id, timeout_s))

    def wait_for_verified_fix(
        self, signature: str | None = None, device_id: str | None = None, timeout_s: float = 60.0
    ) -> Incident:
        """See :meth:`LocalStack.wait_for_verified_fix`."""
        return self._call(self.stack.wait_for_verified_fix(signature, device_id, timeout_s))
