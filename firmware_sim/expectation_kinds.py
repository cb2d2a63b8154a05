"""The expectations a scenario file may list, each a small pydantic model naming its
parameters and the pure check (:mod:`firmware_sim.expectations`) that judges it.

A new kind ("verified recovery within 10 minutes", "activation completes", "an outreach
before the failure") is one more class here with its ``kind`` tag and one more pure
function over :class:`~firmware_sim.expectations.RunObservation`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firmware_sim.care_expectations import (
    check_activation_within,
    check_outreach_before_failure,
    check_verified_recovery,
)
from firmware_sim.expectations import (
    ExpectationResult,
    RunObservation,
    check_all_connected,
    check_every_seq_stored_once,
    check_incident_within,
    check_no_incident_on_healthy,
    check_unacknowledged,
)
from firmware_sim.faults import Fault, InvalidFault

__all__ = [
    "ActivationWithin",
    "AllConnected",
    "EverySeqStoredOnce",
    "ExpectationItem",
    "Expectations",
    "IncidentWithin",
    "MaxUnacknowledged",
    "NoIncidentOnHealthy",
    "OutreachBeforeFailure",
    "VerifiedRecovery",
]


class _Kind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needs_cloud: ClassVar[bool] = False
    """Judged from what the cloud stored (its HTTP API), not from the agents alone."""
    reads: ClassVar[frozenset[str]] = frozenset()
    """What the cloud reader gathers for this kind beyond incidents and stored seqs
    (``setup``, ``outreach``): read only when a scenario asks for it."""


class AllConnected(_Kind):
    """Every agent had a broker session at the end of the run."""

    kind: Literal["all_connected"]

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_all_connected(observed.fleet)


class MaxUnacknowledged(_Kind):
    """At most ``limit`` samples still waiting in outboxes once the fleet has drained:
    0 means the cloud acknowledged (stored) everything the fleet produced."""

    kind: Literal["max_unacknowledged_samples"]
    limit: int = Field(default=0, ge=0)

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_unacknowledged(observed.fleet, self.limit)


class IncidentWithin(_Kind):
    """Each device given a ``signature`` fault gets an incident of that signature within
    ``within_intervals`` telemetry intervals of the fault's start (device time)."""

    kind: Literal["incident_within"]
    signature: str
    within_intervals: float = Field(gt=0)
    needs_cloud: ClassVar[bool] = True

    @field_validator("signature")
    @classmethod
    def _a_signature(cls, signature: str) -> str:
        try:
            Fault.from_signature(signature, 0.0)
        except InvalidFault as exc:
            raise ValueError(str(exc)) from None
        return signature

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_incident_within(observed, self.signature, self.within_intervals)


class NoIncidentOnHealthy(_Kind):
    """No incident on a device the fault schedule left alone."""

    kind: Literal["no_incident_on_healthy_devices"]
    needs_cloud: ClassVar[bool] = True

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_no_incident_on_healthy(observed)


class EverySeqStoredOnce(_Kind):
    """The cloud stored every seq each agent produced exactly once."""

    kind: Literal["every_seq_stored_once"]
    needs_cloud: ClassVar[bool] = True

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_every_seq_stored_once(observed)


class VerifiedRecovery(_Kind):
    """Each device given a fault a remote fix can clear gets an incident whose fix the
    telemetry verified within ``within_s`` device seconds of the fault's start."""

    kind: Literal["verified_recovery"]
    within_s: float = Field(gt=0)
    needs_cloud: ClassVar[bool] = True

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_verified_recovery(observed, self.within_s)


class ActivationWithin(_Kind):
    """Every device completes its setup checklist within ``within_s`` device seconds of
    the run's start."""

    kind: Literal["activation_within"]
    within_s: float = Field(gt=0)
    needs_cloud: ClassVar[bool] = True
    reads: ClassVar[frozenset[str]] = frozenset({"setup"})

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_activation_within(observed, self.within_s)


class OutreachBeforeFailure(_Kind):
    """Every device whose worn part failed during the run had an outreach item created
    before the failure."""

    kind: Literal["outreach_before_failure"]
    needs_cloud: ClassVar[bool] = True
    reads: ClassVar[frozenset[str]] = frozenset({"outreach"})

    def check(self, observed: RunObservation) -> ExpectationResult:
        return check_outreach_before_failure(observed)


ExpectationItem = Annotated[
    AllConnected
    | MaxUnacknowledged
    | IncidentWithin
    | NoIncidentOnHealthy
    | EverySeqStoredOnce
    | VerifiedRecovery
    | ActivationWithin
    | OutreachBeforeFailure,
    Field(discriminator="kind"),
]


class Expectations(BaseModel):
    """The older mapping form of ``expect``: the two delivery expectations."""

    model_config = ConfigDict(extra="forbid")

    all_connected: bool = True
    max_unacknowledged_samples: int | None = Field(default=0, ge=0)
    drain_timeout_s: float = Field(default=30.0, gt=0)
    """Real seconds the fleet gets, after the run, to deliver what it still holds."""

    def items(self) -> list[ExpectationItem]:
        listed: list[ExpectationItem] = []
        if self.all_connected:
            listed.append(AllConnected(kind="all_connected"))
        if self.max_unacknowledged_samples is not None:
            listed.append(
                MaxUnacknowledged(
                    kind="max_unacknowledged_samples", limit=self.max_unacknowledged_samples
                )
            )
        return listed
