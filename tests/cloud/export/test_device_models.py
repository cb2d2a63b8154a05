"""The ``model`` tag's lookups: once per device, a device not known yet asked again later
(its status message may come after its first samples), a failing lookup counted and the
point exported without the tag."""

from __future__ import annotations

import time

from cloud.export.device_models import DeviceModels


class Registry:
    """A device registry that answers what it has been told, and counts the questions."""

    def __init__(self) -> None:
        self.models: dict[str, str] = {}
        self.asked: list[str] = []
        self.down = False

    def model_of(self, device_id: str) -> str | None:
        self.asked.append(device_id)
        if self.down:
            raise ConnectionError("database unavailable")
        return self.models.get(device_id)


def test_a_known_model_is_looked_up_once() -> None:
    registry = Registry()
    registry.models["hp-1"] = "heatpump-hp200"
    models = DeviceModels(registry.model_of)
    assert [models.model_of("hp-1") for _ in range(3)] == ["heatpump-hp200"] * 3
    assert registry.asked == ["hp-1"]


def test_an_unknown_model_is_asked_again_after_the_retry_delay() -> None:
    registry = Registry()
    models = DeviceModels(registry.model_of, retry_s=0.05)
    assert models.model_of("ev-1") is None
    assert models.model_of("ev-1") is None  # within the delay: not asked again
    assert registry.asked == ["ev-1"]
    registry.models["ev-1"] = "evcharger-ec11"
    time.sleep(0.06)
    assert models.model_of("ev-1") == "evcharger-ec11"
    assert registry.asked == ["ev-1", "ev-1"]


def test_a_failing_lookup_is_counted_and_leaves_the_point_untagged() -> None:
    registry = Registry()
    registry.down = True
    models = DeviceModels(registry.model_of, retry_s=0.0)
    assert models.model_of("hp-1") is None
    assert models.errors == 1
    registry.down, registry.models["hp-1"] = False, "heatpump-hp200"
    assert models.model_of("hp-1") == "heatpump-hp200"


def test_the_cache_is_bounded_and_starts_afresh_beyond_its_size() -> None:
    registry = Registry()
    registry.models.update({f"hp-{i}": "heatpump-hp200" for i in range(10)})
    models = DeviceModels(registry.model_of, max_devices=4)
    for i in range(10):
        assert models.model_of(f"hp-{i}") == "heatpump-hp200"
    assert models.model_of("hp-0") == "heatpump-hp200"
    assert registry.asked.count("hp-0") == 2, "forgotten once the cache was full"
