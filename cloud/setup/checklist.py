"""Setup checklists: the steps that take a product from its box to working, as data per
model.

A checklist is a YAML file per product model; ``any-model.yaml`` (``model: "*"``) holds
the steps every product shares. A model's checklist is the shared steps (a model step
with the same id replaces the shared one in place) followed by the model's own, with
every device-verified step before the owner's: the device checks itself as soon as it
boots, while the owner's steps wait for the owner. Each step says:

- ``verified_by``: ``device`` (ticked by the device's self-checks: every check named in
  ``checks`` passed in its latest run) or ``owner`` (ticked by the owner in the app, who
  gets ``instructions`` and a ``next_action``);
- ``help``: text for the owner per failing self-check (keyed by the check's name), and
  for ``failed``, ``stalled`` or ``default`` otherwise;
- ``stall_after_s``: no progress for this long and the step shows its help;
  ``support_after_s``: failing or stalled this long and a support item is opened so the
  service team reaches out.

A file that is not valid is refused when loaded, with its path, line and the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cloud.datafile import DataFileError, load_yaml_model

__all__ = [
    "ANY_MODEL",
    "BUNDLED_CHECKLISTS",
    "Checklist",
    "ChecklistError",
    "Checklists",
    "Step",
    "load_checklist",
]

BUNDLED_CHECKLISTS = Path(__file__).with_name("checklists")
"""The checklists shipped for the product models Aftercare knows."""
ANY_MODEL = "*"

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A step id or a self-check name: what URLs and event details carry."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
VerifiedBy = Literal["device", "owner"]
HELP_KEYS = ("failed", "stalled", "default")


class ChecklistError(DataFileError):
    """A checklist that cannot be used: ``path:line: reason``."""


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: Name
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    verified_by: VerifiedBy
    checks: tuple[Name, ...] = ()
    """Device steps: the self-checks that must all pass."""
    instructions: Text | None = None
    """Owner steps: what to do, in the owner's words."""
    next_action: Text | None = None
    """Owner steps: the one thing the app offers to do next (a button's label)."""
    help: dict[Name, Text] = Field(default_factory=dict)
    stall_after_s: float = Field(default=86_400.0, gt=0, le=365 * 86_400)
    support_after_s: float = Field(default=3 * 86_400.0, gt=0, le=365 * 86_400)

    @model_validator(mode="after")
    def _fits_its_verifier(self) -> Step:
        if self.verified_by == "device":
            if not self.checks:
                raise ValueError("a device step names the self-checks that tick it (checks)")
            if self.instructions is not None or self.next_action is not None:
                raise ValueError("instructions and next_action are for owner steps")
        else:
            if self.checks:
                raise ValueError("an owner step is ticked by the owner: it has no checks")
            if self.instructions is None or self.next_action is None:
                raise ValueError("an owner step needs instructions and a next_action")
        if self.support_after_s < self.stall_after_s:
            raise ValueError("support_after_s must not come before stall_after_s")
        unknown = set(self.help) - set(self.checks) - set(HELP_KEYS)
        if unknown:
            raise ValueError(
                f"help for {sorted(unknown)}: keys are the step's checks or {', '.join(HELP_KEYS)}"
            )
        return self

    def help_for(self, reason: str) -> str | None:
        """Help for a failing check (its name), ``failed`` or ``stalled``."""
        fallback = "failed" if reason in self.checks else None
        for key in (reason, fallback, "default"):
            if key is not None and key in self.help:
                return self.help[key]
        return None


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        ids = [step.id for step in steps]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"step ids must be unique; repeated: {repeated}")
        return steps

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


class Checklists:
    """Every loaded checklist; answers which steps a model's setup has."""

    def __init__(self, checklists: Iterable[Checklist]) -> None:
        self._by_model: dict[str, Checklist] = {}
        for checklist in checklists:
            if checklist.model in self._by_model:
                raise ValueError(f"two checklists for model {checklist.model!r}")
            self._by_model[checklist.model] = checklist
        if ANY_MODEL not in self._by_model:
            raise ValueError("no checklist for every model (model: '*')")

    @classmethod
    def load(cls, folder: Path = BUNDLED_CHECKLISTS) -> Checklists:
        """Every ``*.yaml`` in ``folder``; raises ChecklistError for the first bad one."""
        return cls(load_checklist(path) for path in sorted(folder.glob("*.yaml")))

    def for_model(self, model: str | None) -> Checklist:
        """The model's checklist (shared steps, its own, device steps first); a model
        without its own file (or an unknown one) gets the shared steps alone."""
        shared = self._by_model[ANY_MODEL]
        own = self._by_model.get(model or ANY_MODEL)
        if own is None or own is shared:
            return shared
        replacing = {step.id: step for step in own.steps}
        steps = [replacing.pop(step.id, step) for step in shared.steps]
        steps += [step for step in own.steps if step.id in replacing]
        steps.sort(key=lambda step: step.verified_by != "device")  # stable
        return Checklist(model=own.model, steps=tuple(steps))


def load_checklist(path: Path) -> Checklist:
    """Parse and validate one checklist file; ChecklistError names the line at fault."""
    return load_yaml_model(path, Checklist, ChecklistError)
