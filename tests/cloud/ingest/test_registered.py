"""Registry answers are remembered: a known device for good, an unknown one briefly."""

from __future__ import annotations

from cloud.ingest.registered import RegisteredDevices


def test_known_ids_are_asked_once_and_unknown_ones_again_after_a_while() -> None:
    registry = {"hp-1"}
    asked: list[str] = []
    now = [0.0]

    def is_known(device_id: str) -> bool:
        asked.append(device_id)
        return device_id in registry

    registered = RegisteredDevices(is_known, forget_unknown_s=10.0, monotonic=lambda: now[0])
    assert all(registered("hp-1") for _ in range(5))
    assert not any(registered("hp-2") for _ in range(5))
    assert asked == ["hp-1", "hp-2"]
    registry.add("hp-2")  # a batch imported meanwhile
    now[0] = 9.0
    assert not registered("hp-2")
    now[0] = 10.5
    assert registered("hp-2")
    assert asked == ["hp-1", "hp-2", "hp-2"]


def test_a_flood_of_made_up_ids_keeps_memory_bounded() -> None:
    registered = RegisteredDevices(lambda _: False, max_unknown=100)
    for n in range(1_000):
        assert not registered(f"fake-{n}")
    assert len(registered._unknown_until) <= 100
