"""Playbooks: which fixes may heal which fault signature on which product model, as data.

A playbook is a YAML file per device model (``model: "*"`` for what every model shares,
such as firmware faults). Each fault signature lists candidate fixes in the order a
service engineer would try them; the remediation engine starts from that order and
learns from outcomes which fix works. Each fix says:

- ``action`` and ``params``: what the device runs (``{metric}`` stands for the metric of a
  sensor signature, so ``sensor-stuck/*`` covers every sensor);
- ``preconditions``: readings that must hold when it is sent (not while a car charges),
  and ``wait_s``, how long they may take to hold before the incident goes to people
  (the engine's default when not given: a charging session lasts hours, a reboot
  window minutes);
- ``timeout_s``: how long the device may take to report it;
- ``verify``: what recovery looks like in the telemetry: the signature no longer found,
  and optionally metrics back within bounds, for ``hold_s``, starting within ``within_s``
  of the device's result, counted only while the fault could show
  (``observable_when``). The device's word that it ran the fix is never enough;
- ``max_attempts``: how often it may be tried for one incident.

A file that is not valid is refused when loaded, with its path, line and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from cloud.datafile import KEY, DataFileError, load_yaml_model
from device_agent.contract import Scalar

__all__ = [
    "BUNDLED_PLAYBOOKS",
    "Condition",
    "Fix",
    "Playbook",
    "PlaybookError",
    "Playbooks",
    "Verification",
]

BUNDLED_PLAYBOOKS = Path(__file__).with_name("playbooks")
"""The playbooks shipped for the product models Aftercare knows."""
ANY_MODEL = "*"
METRIC_PLACEHOLDER = "{metric}"

Signature = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*/([a-z0-9_]+|\*)$")]
MetricRef = Annotated[str, StringConstraints(pattern=r"^([a-z][a-z0-9_]{0,63}|\{metric\})$")]
Action = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]


class PlaybookError(DataFileError):
    """A playbook that cannot be used: ``path:line: reason``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Condition(_Strict):
    """A metric within bounds (``min`` and/or ``max``, inclusive)."""

    metric: MetricRef
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Condition:
        if self.min is None and self.max is None:
            raise ValueError("a condition needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def holds(self, metrics: Mapping[str, float]) -> bool | None:
        """Whether the reading satisfies it; None when the metric is not reported."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return None
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Verification(_Strict):
    within_s: float = Field(gt=0, le=7 * 86_400)
    """Recovery must begin within this long after the device reported the fix done (and
    ``settle_s`` has passed)."""
    settle_s: float = Field(default=0.0, ge=0, le=7 * 86_400)
    """Samples this soon after the fix prove and break nothing. A fix that changes the
    operating point for a while (lowers the load for 15 minutes) is judged once it has
    worn off: a part that only cooled because it worked less is not repaired."""
    hold_s: float = Field(gt=0, le=86_400)
    """...and then hold this long: the signature not found, and every bound met."""
    bounds: tuple[Condition, ...] = ()
    observable_when: tuple[Condition, ...] = ()
    """Where the fault shows only under some conditions (a bad contact heats only while a
    car charges), the samples taken while these hold: only they can prove recovery, and
    the hold must be seen within one such stretch. Others prove and break nothing."""


class Fix(_Strict):
    action: Action
    params: dict[str, Scalar] = Field(default_factory=dict)
    preconditions: tuple[Condition, ...] = ()
    wait_s: float | None = Field(default=None, gt=0, le=7 * 86_400)
    """How long the preconditions may take to hold; None: the engine's limit."""
    timeout_s: float = Field(default=120.0, gt=0, le=3600)
    max_attempts: int = Field(default=1, ge=1, le=5)
    verify: Verification

    def for_metric(self, metric: str | None) -> Fix:
        """This fix with ``{metric}`` replaced by the signature's metric."""
        if metric is None:
            return self
        text = self.model_dump_json().replace(METRIC_PLACEHOLDER, metric)
        return Fix.model_validate_json(text)


class Playbook(_Strict):
    model: str = Field(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
    signatures: dict[Signature, Annotated[tuple[Fix, ...], Field(min_length=1)]]

    @model_validator(mode="after")
    def _placeholders_only_for_any_metric(self) -> Playbook:
        for signature, fixes in self.signatures.items():
            if not signature.endswith("/*") and any(
                METRIC_PLACEHOLDER in fix.model_dump_json() for fix in fixes
            ):
                raise PydanticCustomError(
                    "placeholder",
                    "{signature}: the {metric} placeholder is only meaningful under 'kind/*'",
                    {"signature": signature},
                )
        return self


class Playbooks:
    """Every loaded playbook; answers which fixes to try for a model's signature."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self._by_model: dict[str, Playbook] = {}
        for playbook in playbooks:
            if playbook.model in self._by_model:
                raise ValueError(f"two playbooks for model {playbook.model!r}")
            self._by_model[playbook.model] = playbook

    @classmethod
    def load(cls, folder: Path = BUNDLED_PLAYBOOKS) -> Playbooks:
        """Every ``*.yaml`` in ``folder``; raises PlaybookError for the first bad one."""
        return cls(load_playbook(path) for path in sorted(folder.glob("*.yaml")))

    @property
    def models(self) -> list[str]:
        return sorted(self._by_model)

    def fixes_for(self, model: str | None, signature: str) -> tuple[Fix, ...]:
        """Candidate fixes, in playbook order: the model's own entry for the exact
        signature, else for its kind (``kind/*``), else the shared playbook's."""
        kind, _, target = signature.partition("/")
        for owner in (model, ANY_MODEL):
            playbook = self._by_model.get(owner or ANY_MODEL)
            if playbook is None:
                continue
            if signature in playbook.signatures:
                return playbook.signatures[signature]
            if f"{kind}/*" in playbook.signatures:
                return tuple(fix.for_metric(target) for fix in playbook.signatures[f"{kind}/*"])
        return ()


def load_playbook(path: Path) -> Playbook:
    """Parse and validate one playbook file; PlaybookError names the line at fault."""
    return load_yaml_model(path, Playbook, PlaybookError, _signature_entry)


def _signature_entry(details: ErrorDetails) -> tuple[Any, ...] | None:
    """A rule about one signature's entry as a whole points at that signature's key."""
    signature = details.get("ctx", {}).get("signature")
    return None if signature is None else ("signatures", signature, KEY)
