"""The batch file a manufacturer imports: ``{"model", "firmware", "devices":
[{"device_id", "device_secret", "claim_code"}]}``, as ``aftercare sim batch`` writes it.

The cloud reads the format through this model, never by importing the simulator, so a
real factory's tooling only has to write the same JSON. Validation is complete before
anything is stored: a batch is imported whole or not at all.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from device_agent.contract import DeviceId
from device_agent.identity import DEVICE_SECRET_MIN_LENGTH, format_claim_code

MAX_BATCH_DEVICES = 100_000
_PRINTABLE = r"^[\x21-\x7e]+$"

ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
FirmwareVersion = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PRINTABLE)]
DeviceSecret = Annotated[
    str,
    StringConstraints(min_length=DEVICE_SECRET_MIN_LENGTH, max_length=256, pattern=_PRINTABLE),
]


class FactoryDeviceIn(BaseModel):
    """One device of a batch; ``claim_code`` is kept in its printed form."""

    model_config = ConfigDict(extra="forbid")

    device_id: DeviceId
    device_secret: DeviceSecret
    claim_code: Annotated[str, StringConstraints(max_length=64)]

    @field_validator("claim_code")
    @classmethod
    def _claim_code(cls, value: str) -> str:
        return format_claim_code(value)  # InvalidClaimCode is a ValueError: a clear 422


class FactoryBatch(BaseModel):
    """A manufacturing batch: one model and firmware, each device's identity."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName
    firmware: FirmwareVersion
    devices: Annotated[list[FactoryDeviceIn], Field(min_length=1, max_length=MAX_BATCH_DEVICES)]

    @model_validator(mode="after")
    def _unique(self) -> FactoryBatch:
        for field in ("device_id", "claim_code", "device_secret"):
            seen: set[str] = set()
            for device in self.devices:
                value = getattr(device, field)
                if value in seen:
                    shown = value if field == "device_id" else f"of {device.device_id}"
                    raise ValueError(f"{field} {shown} appears twice in the batch")
                seen.add(value)
        return self


def describe_errors(error: ValidationError) -> str:
    """One line per problem, ``devices[3].claim_code: <reason>``, for the command line."""
    lines = []
    for item in error.errors(include_url=False):
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]
        ).lstrip(".")
        reason = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{where or 'batch'}: {reason}")
    return "; ".join(lines)
