"""What a scenario file may say, validated by pydantic: the fleet, environment events, a
fault schedule and the expectations a run is judged by.

Times (``at_s``, ``duration_s``) are device seconds from the start of the run. Every
part is ``extra="forbid"``, so a typo is refused with its line rather than ignored. The
older forms stay valid: ``fleet: {devices: N, models: [ids]}`` and ``expect:`` as a
mapping of the two delivery expectations.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from firmware_sim.expectation_kinds import ExpectationItem, Expectations
from firmware_sim.faults import Fault, InvalidFault
from firmware_sim.fleet import ID_PREFIX
from firmware_sim.models import DeviceModelError, model_class
from firmware_sim.yaml_lines import YamlSource

__all__ = [
    "BrokerRestart",
    "CloudRestart",
    "DeviceSelector",
    "FaultEntry",
    "FleetSection",
    "ModelGroup",
    "NetworkOutage",
    "OwnersSection",
    "ReliabilityLabSection",
    "Scenario",
    "WearOutSection",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WearOutSection(_Strict):
    """Devices whose wearing part wears out and fails (``wear-out/connector``,
    ``wear-out/compressor``): a ``share`` of the fleet, starting within a day after
    ``after_s`` of device time, failing after a Weibull time to failure."""

    share: float = Field(gt=0, le=1)
    after_s: float = Field(default=3 * 3600.0, ge=0)
    scale_days: float = Field(default=20.0, gt=0)
    shape: float = Field(default=2.5, gt=0)
    min_days: float = Field(default=2.0, gt=0)
    magnitude: float = Field(default=1.0, gt=0)


def _known_model(model: str) -> str:
    """A built-in model, an installed ``aftercare.device_models`` entry point or a
    ``package.module:Class`` path (the registry's words when it is none of them)."""
    try:
        model_class(model)
    except DeviceModelError as exc:
        raise ValueError(str(exc).strip("'\"")) from None
    return model


class ModelGroup(_Strict):
    """``count`` devices of one model, reporting ``firmware`` (the model's own version
    when not given)."""

    model: str
    count: int = Field(ge=1, le=100_000)
    firmware: str | None = Field(default=None, min_length=1, max_length=64)

    _model = field_validator("model")(_known_model)


def _model_entry(value: Any) -> str:
    return "name" if isinstance(value, str) else "group"


ModelEntry = Annotated[
    Annotated[str, Tag("name")] | Annotated[ModelGroup, Tag("group")],
    Discriminator(_model_entry),
]


class FleetSection(_Strict):
    devices: int | None = Field(default=None, ge=1, le=100_000)
    """Required with plain model ids; with model groups, their counts' sum."""
    id_prefix: str = Field(default="", pattern=f"^{ID_PREFIX.pattern}$")
    """Before every device id (``lab-``): keeps a test fleet apart from the devices a
    shared cloud already has."""
    models: list[ModelEntry] | None = None
    seed: int = 1
    telemetry_interval_s: float = Field(default=5.0, gt=0)
    wear_out: WearOutSection | None = None

    @field_validator("models")
    @classmethod
    def _one_form(cls, models: list[str | ModelGroup] | None) -> list[str | ModelGroup] | None:
        if models is None:
            return None
        if not models:
            raise ValueError("give at least one model")
        if len({isinstance(m, str) for m in models}) > 1:
            raise ValueError("use either model ids or {model, count} groups, not both")
        for model in models:
            if isinstance(model, str):
                _known_model(model)
        return models

    @model_validator(mode="after")
    def _count(self) -> FleetSection:
        groups = self.groups
        if groups:
            total = sum(g.count for g in groups)
            if self.devices is not None and self.devices != total:
                raise ValueError(
                    f"devices is {self.devices} but the model counts add up to {total}"
                )
            self.devices = total
        elif self.devices is None:
            raise ValueError("devices: give the number of devices (or models with counts)")
        return self

    @property
    def groups(self) -> list[ModelGroup]:
        return [m for m in self.models or [] if isinstance(m, ModelGroup)]

    @property
    def size(self) -> int:
        assert self.devices is not None  # set by the validator
        return self.devices


class ByIds(_Strict):
    ids: list[str] = Field(min_length=1)


class ByModel(_Strict):
    model: str
    count: int = Field(default=1, ge=1)

    _model = field_validator("model")(_known_model)


class ByShare(_Strict):
    share: float = Field(gt=0, le=1)


def _selector_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "ids" in value:
            return "ids"
        if "model" in value:
            return "model"
    return "share"


DeviceSelector = Annotated[
    Annotated[ByIds, Tag("ids")]
    | Annotated[ByModel, Tag("model")]
    | Annotated[ByShare, Tag("share")],
    Discriminator(_selector_kind),
]
"""Which devices: listed ids (without the fleet's ``id_prefix`` or with it), the first
``count`` devices of a model, or a ``share`` of the fleet drawn from the seed."""


class FaultEntry(_Strict):
    """A fault from ``at_s`` (device seconds into the run) on the chosen devices; it
    lasts ``duration_s`` or, without one, until an action clears it."""

    at_s: float = Field(ge=0)
    devices: DeviceSelector
    fault: str
    magnitude: float = Field(default=1.0, gt=0)
    duration_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _a_known_fault(self) -> FaultEntry:
        try:
            Fault.from_signature(self.fault, self.at_s, self.duration_s, self.magnitude)
        except InvalidFault as exc:
            raise ValueError(str(exc)) from None
        return self


class NetworkOutage(_Strict):
    """The chosen devices lose their network (their agents their broker link) from
    ``at_s`` for ``duration_s`` device seconds; they keep sampling into their outboxes."""

    event: Literal["network_outage"]
    at_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    devices: DeviceSelector = Field(default_factory=lambda: ByShare(share=1.0))


class BrokerRestart(_Strict):
    """The broker goes down at ``at_s`` (every session lost) and comes back on the same
    port ``down_s`` device seconds later (``down_s / speed`` real seconds)."""

    event: Literal["broker_restart"]
    at_s: float = Field(ge=0)
    down_s: float = Field(default=3.0, ge=0, le=86_400)


class CloudRestart(_Strict):
    """The cloud stops at ``at_s`` and a new one starts on the same database and HTTP
    port ``down_s`` device seconds later."""

    event: Literal["cloud_restart"]
    at_s: float = Field(ge=0)
    down_s: float = Field(default=3.0, ge=0, le=86_400)


EnvironmentEvent = Annotated[
    NetworkOutage | BrokerRestart | CloudRestart, Field(discriminator="event")
]


def _expect_form(value: Any) -> str:
    return "list" if isinstance(value, list) else "mapping"


ExpectSection = Annotated[
    Annotated[Expectations, Tag("mapping")] | Annotated[list[ExpectationItem], Tag("list")],
    Discriminator(_expect_form),
]


class OwnersSection(_Strict):
    """Every device has an owner who unboxes it ``steps_after_s`` device seconds into
    the run: opens an account, claims the device with the code from its box and does
    the owner's setup steps (preferences, warranty) in the owner API. Needs a cloud the
    run starts: the box codes are made when the run registers the fleet."""

    steps_after_s: float = Field(default=60.0, ge=0)


class ReliabilityLabSection(_Strict):
    """Run-to-failure histories of the fleet's models, given to the cloud this run
    starts as a manufacturer's test rigs would give them, so its remaining-life model
    can forecast before any device of the fleet has failed: ``devices`` rig units per
    model on their own ``seed``, healthy for ``healthy_days`` and then wearing out
    with a Weibull life (``scale_days``, ``shape``, ``min_days``; by default the
    fleet's ``wear_out`` spread)."""

    devices: int = Field(default=24, ge=2, le=500)
    seed: int = 1
    healthy_days: tuple[float, float] = (0.2, 0.4)
    scale_days: float | None = Field(default=None, gt=0)
    shape: float | None = Field(default=None, gt=0)
    min_days: float | None = Field(default=None, gt=0)


class Scenario(_Strict):
    name: str = "scenario"
    fleet: FleetSection
    duration_s: float = Field(gt=0)
    speed: float = Field(default=1.0, gt=0, le=10_000)
    owners: OwnersSection | None = None
    reliability_lab: ReliabilityLabSection | None = None
    cloud_settings: dict[str, Any] = Field(default_factory=dict)
    """Settings of the cloud this run starts, by their ``AFTERCARE_*`` names in lower
    case without the prefix (``rul_period_s: 600``): a product whose parts live hours
    in the scenario needs the cloud to judge wear in minutes, not its default hours."""
    events: list[EnvironmentEvent] = Field(default_factory=list)
    faults: list[FaultEntry] = Field(default_factory=list)
    expect: ExpectSection = Field(default_factory=Expectations)
    drain_timeout_s: float = Field(default=30.0, gt=0)
    """Real seconds the fleet gets, after the run, to deliver what it still holds (the
    mapping form of ``expect`` may say it there instead)."""
    _source: YamlSource | None = PrivateAttr(default=None)

    def where(self, loc: tuple[int | str, ...]) -> str:
        """``file:line: field`` of a part of the scenario, for a refusal that names it."""
        if self._source is None:
            return ".".join(str(p) for p in loc)
        return self._source.where(loc)

    @property
    def expectations(self) -> list[ExpectationItem]:
        """The expectations in the order they are checked, whichever form was written."""
        if isinstance(self.expect, Expectations):
            return self.expect.items()
        return list(self.expect)

    @property
    def drain_s(self) -> float:
        if (
            isinstance(self.expect, Expectations)
            and "drain_timeout_s" in self.expect.model_fields_set
        ):
            return self.expect.drain_timeout_s
        return self.drain_timeout_s

    @model_validator(mode="after")
    def _a_lab_knows_its_life_spread(self) -> Scenario:
        lab = self.reliability_lab
        if lab is not None and self.fleet.wear_out is None and lab.scale_days is None:
            raise ValueError(
                "reliability_lab: how long the lab's parts live: give its scale_days "
                "(with shape and min_days) or fleet.wear_out"
            )
        return self

    @property
    def needs_cloud(self) -> list[tuple[int, ExpectationItem]]:
        """Expectations judged from what the cloud stored (its HTTP API), by position."""
        return [(i, e) for i, e in enumerate(self.expectations) if e.needs_cloud]

    @property
    def cloud_reads(self) -> frozenset[str]:
        """What the cloud reader gathers beyond incidents and seqs (``setup``,
        ``outreach``) for the expectations listed."""
        return frozenset(r for e in self.expectations for r in e.reads)
