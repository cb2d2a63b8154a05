"""Campaigns: push one fix to a cohort, canary first, in batches that pause themselves
when too many devices fail verification (service team only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from cloud.api.deps import ReposDep, ServiceDep
from cloud.api.schemas.campaigns import CampaignIn, CampaignOut
from cloud.db.campaigns import TargetRow
from cloud.heal.campaign import Campaign, spec_from

router = APIRouter(prefix="/campaigns", tags=["self-healing"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_campaign(body: CampaignIn, repos: ReposDep, _: ServiceDep) -> CampaignOut:
    """Start a campaign; 422 when the cohort matches no device."""
    cohort = body.cohort
    wanted = set(cohort.device_ids) if cohort.device_ids is not None else None
    tagged = repos.tags.tagged(cohort.tag) if cohort.tag is not None else None
    devices = [
        d.id
        for d in repos.telemetry.list_devices()
        if (cohort.model is None or d.model == cohort.model)
        and (cohort.firmware is None or d.firmware == cohort.firmware)
        and (tagged is None or d.id in tagged)
        and (wanted is None or d.id in wanted)
    ]
    if not devices:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="the cohort is empty")
    spec = body.model_dump(mode="json", exclude={"cohort"})
    planned = Campaign.plan(0, spec_from(spec), devices)
    targets = [
        TargetRow(t.device_id, position, t.batch, t.state)
        for position, t in enumerate(planned.targets)
    ]
    at = repos.clock.now()
    campaign_id = repos.campaigns.create(
        spec, cohort.model_dump(mode="json"), targets, "running", at
    )
    return _out(repos, campaign_id)


@router.get("")
def list_campaigns(repos: ReposDep, _: ServiceDep) -> list[CampaignOut]:
    return [CampaignOut.of(row, repos.campaigns.targets(row.id)) for row in repos.campaigns.all()]


@router.get("/{campaign_id}")
def get_campaign(campaign_id: int, repos: ReposDep, _: ServiceDep) -> CampaignOut:
    return _out(repos, campaign_id)


@router.post("/{campaign_id}/resume")
def resume_campaign(campaign_id: int, repos: ReposDep, _: ServiceDep) -> CampaignOut:
    """Carry on after a pause (409 unless paused)."""
    return _move(repos, campaign_id, "paused", "running")


@router.post("/{campaign_id}/abort")
def abort_campaign(campaign_id: int, repos: ReposDep, _: ServiceDep) -> CampaignOut:
    """Stop for good; devices already fixed stay fixed (409 once it has ended)."""
    return _move(repos, campaign_id, ("running", "paused"), "aborted")


def _move(
    repos: ReposDep, campaign_id: int, allowed: str | tuple[str, ...], to: str
) -> CampaignOut:
    row = repos.campaigns.get(campaign_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no campaign {campaign_id}")
    if row.status not in ((allowed,) if isinstance(allowed, str) else allowed):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"campaign {campaign_id} is {row.status}"
        )
    reason = "aborted by the service team" if to == "aborted" else ""
    repos.campaigns.set_status(campaign_id, to, reason, repos.clock.now())
    return _out(repos, campaign_id)


def _out(repos: ReposDep, campaign_id: int) -> CampaignOut:
    row = repos.campaigns.get(campaign_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no campaign {campaign_id}")
    return CampaignOut.of(row, repos.campaigns.targets(campaign_id))
