"""A stop that lands as the broker replies must still stop the loop that was waiting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from device_agent.cancellation import honour_cancellation
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from device_agent.stats import AgentStats
from device_agent.uplink import Uplink


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


class _ReplyingClient:
    """Answers each publish the way aiomqtt waits for a PUBACK, one reply at a time."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        reply = asyncio.get_running_loop().create_future()
        await self.replies.put(reply)
        await asyncio.wait_for(reply, timeout=5)


async def test_an_uplink_told_to_stop_as_its_last_publish_is_answered_stops_at_once(
    tmp_path: Path,
) -> None:
    """Seen in CI: the stop landed with the PUBACK of the last batch, the uplink went on
    to wait out its flush interval (a minute here) and the agent outlived its stop."""
    settings = AgentSettings(device_id="hp-1", flush_interval_s=60.0)
    with Outbox(tmp_path / "o.db") as outbox:
        outbox.append(time.time(), {"temp_c": 1.0})
        uplink = Uplink(settings, outbox, AgentStats())
        client = _ReplyingClient()
        task = asyncio.create_task(uplink.publish_forever(client))  # type: ignore[arg-type]
        reply = await client.replies.get()  # the one batch is out
        reply.set_result(None)  # its PUBACK lands...
        task.cancel()  # ...in the same loop iteration as the stop
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, "the uplink waited out its flush interval after its stop"
        assert task.cancelled()
