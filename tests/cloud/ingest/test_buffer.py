"""The hand-over from paho's network thread is bounded in bytes and messages: a full
buffer makes the producer wait (back-pressure) instead of growing."""

from __future__ import annotations

import threading
import time

from cloud.ingest.buffer import IngestBuffer
from cloud.ingest.triage import RawMessage


def _message(size: int) -> RawMessage:
    return RawMessage("aftercare/v1/d/telemetry", b"x" * size, 0.0)


def test_a_full_buffer_blocks_the_producer_until_the_writer_takes() -> None:
    buffer = IngestBuffer(max_bytes=1000, max_messages=100)
    buffer.put(_message(600))
    producer = threading.Thread(target=buffer.put, args=(_message(600),))
    producer.start()
    time.sleep(0.2)
    assert producer.is_alive(), "1200 bytes do not fit in 1000: the producer must wait"
    assert buffer.bytes == 600
    assert len(buffer.take(10, 0.01)) == 1
    producer.join(2)
    assert not producer.is_alive()
    assert buffer.bytes == 600
    assert buffer.blocked_puts == 1


def test_a_message_larger_than_the_budget_still_passes_alone() -> None:
    buffer = IngestBuffer(max_bytes=100, max_messages=10)
    buffer.put(_message(5000))
    assert [len(m.payload) for m in buffer.take(10, 0.01)] == [5000]


def test_take_gathers_up_to_a_batch_and_returns_nothing_when_idle() -> None:
    buffer = IngestBuffer(max_bytes=10_000, max_messages=3)
    assert buffer.take(10, 0.01) == []
    for _ in range(3):
        buffer.put(_message(10))
    assert len(buffer.take(2, 0.01)) == 2
    assert len(buffer.take(2, 0.01)) == 1
    assert buffer.bytes == 0


def test_a_batch_taken_counts_as_unfinished_until_the_writer_is_done_with_it() -> None:
    buffer = IngestBuffer(max_bytes=1000, max_messages=100)
    for _ in range(3):
        buffer.put(_message(10))
    assert buffer.unfinished == 3
    assert len(buffer.take(2, 0.01)) == 2
    assert (len(buffer), buffer.unfinished) == (1, 3), "two in the writer's hands"
    buffer.finished()
    assert buffer.unfinished == 1
