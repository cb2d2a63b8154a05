"""A manufacturing batch: what the factory gives each device before it ships.

Each device gets a serial (its ``device_id``), a device secret it keeps, and the claim
code printed on its box. The batch file is what the manufacturer imports into the cloud
(``aftercare cloud batch import``); it holds the plaintext secrets, so it is written
readable by its owner only, and the cloud keeps nothing of it but digests.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from device_agent.identity import new_claim_code, new_device_secret
from firmware_sim.models.registry import model_class

MAX_BATCH = 100_000
"""The most devices one batch file holds (the cloud refuses larger ones)."""


@dataclass(frozen=True)
class FactoryDevice:
    device_id: str
    device_secret: str
    claim_code: str


@dataclass(frozen=True)
class Batch:
    model: str
    firmware: str
    devices: tuple[FactoryDevice, ...]

    def to_json(self) -> str:
        """The batch file's text: ``{"model", "firmware", "devices": [{"device_id",
        "device_secret", "claim_code"}]}``."""
        body = {
            "model": self.model,
            "firmware": self.firmware,
            "devices": [asdict(d) for d in self.devices],
        }
        return json.dumps(body, indent=2) + "\n"


def generate_batch(model: str, count: int, rng: random.Random | None = None) -> Batch:
    """``count`` fresh identities for devices of ``model`` with its current firmware.

    Serials are random (``heatpump-hp200-3f9a0c71d2``), so batches made apart never
    collide. ``rng`` defaults to the operating system's generator; a seeded
    ``random.Random`` gives reproducible test data and must never make real secrets,
    which then come from it as well."""
    if not 1 <= count <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} devices; got {count}")
    simulated = model_class(model)  # raises UnknownModel naming the known models
    model, firmware = simulated.MODEL, simulated.FIRMWARE  # a dotted path -> the model's id
    source = rng if rng is not None else secrets.SystemRandom()
    serials: set[str] = set()
    while len(serials) < count:
        serials.add(f"{model}-{source.getrandbits(40):010x}")
    devices = tuple(
        FactoryDevice(
            device_id=serial,
            device_secret=new_device_secret() if rng is None else _seeded_secret(source),
            claim_code=new_claim_code(source),
        )
        for serial in sorted(serials)
    )
    return Batch(model=model, firmware=firmware, devices=devices)


def _seeded_secret(rng: random.Random) -> str:
    return rng.randbytes(32).hex()


def write_batch(batch: Batch, path: Path) -> None:
    """Write the batch file, readable by its owner only (it holds device secrets); an
    existing file is never overwritten: its secrets may already be in devices."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(batch.to_json())
