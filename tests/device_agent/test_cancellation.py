"""A stop that lands as the broker replies must still stop the loop that was waiting."""

from __future__ import annotations

import asyncio

from device_agent.cancellation import honour_cancellation


async def _publish_loop(replies: asyncio.Queue[asyncio.Future[None]], rounds: list[int]) -> None:
    """The shape of the uplink: wait for each reply the way aiomqtt does, go round."""
    while True:
        honour_cancellation()
        reply = asyncio.get_running_loop().create_future()
        await replies.put(reply)
        await asyncio.wait_for(reply, timeout=5)
        rounds.append(1)


async def test_a_stop_arriving_with_the_reply_ends_the_loop() -> None:
    replies: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
    rounds: list[int] = []
    task = asyncio.create_task(_publish_loop(replies, rounds))
    reply = await replies.get()
    reply.set_result(None)  # the PUBACK lands...
    task.cancel()  # ...in the same loop iteration as the stop
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done, "the loop went on after its stop"
    assert task.cancelled()


async def test_a_task_nobody_stopped_is_left_alone() -> None:
    honour_cancellation()  # no exception: this task was never asked to stop
