"""Campaign rows: created by the API, run by the remediation worker, which writes each
device's progress and the campaign's status (paused with its reason, completed) as they
change. People resume or abort a campaign by changing its status here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from cloud.db.schema import campaign_targets, campaigns

__all__ = ["CampaignRow", "CampaignStore", "TargetRow"]


@dataclass(frozen=True)
class TargetRow:
    device_id: str
    position: int
    batch: int
    state: str
    command_id: str | None = None
    sent_at: float | None = None
    result_state: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class CampaignRow:
    id: int
    spec: dict[str, Any]
    cohort: dict[str, Any]
    status: str
    reason: str
    created_at: float
    updated_at: float


class CampaignStore:
    """Thread-safe (one transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        spec: dict[str, Any],
        cohort: dict[str, Any],
        targets: Sequence[TargetRow],
        status: str,
        at: float,
    ) -> int:
        with self.engine.begin() as conn:
            inserted = conn.execute(
                campaigns.insert().values(
                    spec=spec,
                    cohort=cohort,
                    status=status,
                    reason="",
                    created_at=at,
                    updated_at=at,
                )
            ).inserted_primary_key
            assert inserted is not None  # an INSERT always has one
            campaign_id = int(inserted[0])
            if targets:
                conn.execute(
                    campaign_targets.insert(),
                    [{"campaign_id": campaign_id, **t.__dict__} for t in targets],
                )
        return campaign_id

    def get(self, campaign_id: int) -> CampaignRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
        return CampaignRow(**row._mapping) if row else None

    def all(self, statuses: Iterable[str] | None = None) -> list[CampaignRow]:
        query = select(campaigns).order_by(campaigns.c.id.desc())
        if statuses is not None:
            query = query.where(campaigns.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [CampaignRow(**row._mapping) for row in conn.execute(query)]

    def targets(self, campaign_id: int) -> list[TargetRow]:
        query = (
            select(campaign_targets)
            .where(campaign_targets.c.campaign_id == campaign_id)
            .order_by(campaign_targets.c.position)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings()
            return [TargetRow(**{k: v for k, v in r.items() if k != "campaign_id"}) for r in rows]

    def set_status(self, campaign_id: int, status: str, reason: str, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(status=status, reason=reason, updated_at=at)
            )

    def save_targets(self, campaign_id: int, targets: Iterable[TargetRow]) -> None:
        with self.engine.begin() as conn:
            for target in targets:
                conn.execute(
                    update(campaign_targets)
                    .where(
                        campaign_targets.c.campaign_id == campaign_id,
                        campaign_targets.c.device_id == target.device_id,
                    )
                    .values(
                        state=target.state,
                        command_id=target.command_id,
                        sent_at=target.sent_at,
                        result_state=target.result_state,
                        detail=target.detail,
                    )
                )
