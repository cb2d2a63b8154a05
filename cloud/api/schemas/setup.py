"""Guided setup, the activation funnel and support items as the API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from cloud.api.schemas.common import to_datetime
from cloud.db.setup import SupportItem
from cloud.setup import Funnel, SetupState, StepState


class SetupStepOut(BaseModel):
    id: str
    title: str
    state: Literal["done", "pending", "failed", "needs_owner"]
    verified_by: Literal["device", "owner"]
    help: str | None
    """Shown when the step failed (per failing check) or made no progress for a while."""
    reason: str | None
    """``check: reason`` for a failed step, ``stalled`` for one without progress."""
    instructions: str | None
    next_action: str | None
    done_at: datetime | None

    @classmethod
    def of(cls, step: StepState) -> SetupStepOut:
        return cls(
            id=step.step.id,
            title=step.step.title,
            state=step.state,
            verified_by=step.step.verified_by,
            help=step.help,
            reason=step.reason,
            instructions=step.step.instructions,
            next_action=step.step.next_action,
            done_at=to_datetime(step.done_at) if step.done_at is not None else None,
        )


class SetupOut(BaseModel):
    device_id: str
    model: str | None
    activated: bool
    activated_at: datetime | None
    steps: list[SetupStepOut]

    @classmethod
    def of(cls, device_id: str, model: str | None, state: SetupState) -> SetupOut:
        return cls(
            device_id=device_id,
            model=model,
            activated=state.activated,
            activated_at=to_datetime(state.activated_at) if state.activated_at else None,
            steps=[SetupStepOut.of(step) for step in state.steps],
        )


class FunnelStepOut(BaseModel):
    id: str
    done: int
    drop_off: int


class FailingCheckOut(BaseModel):
    check: str
    devices: int


class FunnelOut(BaseModel):
    model: str | None
    firmware: str | None
    devices: int
    steps: list[FunnelStepOut]
    activated: int
    median_time_to_activate_s: float | None
    most_common_failing_check: FailingCheckOut | None

    @classmethod
    def of(cls, model: str | None, firmware: str | None, funnel: Funnel) -> FunnelOut:
        common = funnel.most_common_failing_check
        return cls(
            model=model,
            firmware=firmware,
            devices=funnel.devices,
            steps=[FunnelStepOut(id=s.id, done=s.done, drop_off=s.drop_off) for s in funnel.steps],
            activated=funnel.activated,
            median_time_to_activate_s=funnel.median_time_to_activate_s,
            most_common_failing_check=(
                FailingCheckOut(check=common[0], devices=common[1]) if common else None
            ),
        )


class SupportItemOut(BaseModel):
    id: int
    device_id: str
    step: str
    reason: str
    opened_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, item: SupportItem) -> SupportItemOut:
        return cls(
            id=item.id,
            device_id=item.device_id,
            step=item.step,
            reason=item.reason,
            opened_at=to_datetime(item.opened_at),
            resolved_at=to_datetime(item.resolved_at) if item.resolved_at is not None else None,
        )
