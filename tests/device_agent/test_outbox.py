"""The durable outbox: ordered, bounded, surviving restarts."""

from __future__ import annotations

from pathlib import Path

from device_agent.outbox import Outbox

TS = 1_750_000_000.0


def test_pending_samples_come_out_in_seq_order_until_acknowledged() -> None:
    with Outbox() as outbox:
        seqs = [outbox.append(TS + i, {"t": float(i)}) for i in range(5)]
        assert seqs == [0, 1, 2, 3, 4]
        assert [s.seq for s in outbox.pending(limit=3)] == [0, 1, 2]
        assert [s.seq for s in outbox.pending(after_seq=2)] == [3, 4]
        assert outbox.acknowledge([(0, 1), (3, 3)]) == 3
        assert [s.seq for s in outbox.pending()] == [2, 4]
        assert len(outbox) == 2


def test_a_full_outbox_drops_the_oldest_and_counts_them() -> None:
    with Outbox(max_samples=3) as outbox:
        for i in range(5):
            outbox.append(TS + i, {"t": float(i)})
        assert [s.seq for s in outbox.pending()] == [2, 3, 4]
        assert outbox.dropped_total == 2


def test_the_outbox_survives_an_agent_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as outbox:
        for i in range(3):
            outbox.append(TS + i, {"t": float(i)})
        outbox.acknowledge([(0, 0)])
    with Outbox(path) as reopened:
        assert [s.seq for s in reopened.pending()] == [1, 2]
        assert reopened.append(TS + 9, {"t": 9.0}) == 3  # seq is never reused
        assert reopened.pending()[0].metrics == {"t": 1.0}
