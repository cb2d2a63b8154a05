"""Stopping for real when a library drops the request to stop.

aiomqtt waits for the broker's replies (SUBACK, PUBACK) with ``asyncio.wait_for``. On
Python 3.11 that returns the reply and drops a cancellation arriving in the same loop
iteration as the reply (CPython bpo-42130, fixed in 3.12). The task stays "cancelling" but
runs on, so a loop around such a call never ends and a stop hangs forever (seen as an
agent that ignored its stop one run in a few, mid-publish).
"""

from __future__ import annotations

import asyncio


def honour_cancellation() -> None:
    """Raise CancelledError if the running task was asked to stop and is still running.

    Call it where a long-lived loop goes round, never in cleanup that runs while the
    task is already being cancelled, and only in a task that has opened no TaskGroup: on
    3.11 a TaskGroup whose child failed leaves its parent task's count raised for good."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
