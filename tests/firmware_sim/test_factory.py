"""A manufacturing batch gives every device a unique serial, secret and claim code, in the
file format the cloud imports."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import pytest

from cloud.identity import FactoryBatch
from firmware_sim import UnknownModel
from firmware_sim.factory import generate_batch, write_batch
from firmware_sim.models.heatpump import HeatPump


def test_a_batch_is_unique_and_in_the_format_the_cloud_imports(tmp_path: Path) -> None:
    batch = generate_batch("heatpump-hp200", 50)
    assert batch.firmware == HeatPump.FIRMWARE
    for field in ("device_id", "device_secret", "claim_code"):
        assert len({getattr(d, field) for d in batch.devices}) == 50
    path = tmp_path / "batch.json"
    write_batch(batch, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = FactoryBatch.model_validate_json(path.read_text())
    assert parsed.model == "heatpump-hp200"
    assert [d.claim_code for d in parsed.devices] == [d.claim_code for d in batch.devices]
    with pytest.raises(FileExistsError):
        write_batch(batch, path)


def test_a_seeded_batch_is_reproducible_and_bad_requests_are_refused() -> None:
    assert generate_batch("evcharger-ec11", 3, random.Random(7)) == generate_batch(
        "evcharger-ec11", 3, random.Random(7)
    )
    with pytest.raises(UnknownModel, match="known models"):
        generate_batch("toaster-t1", 1)
    with pytest.raises(ValueError, match="1 to"):
        generate_batch("heatpump-hp200", 0)
