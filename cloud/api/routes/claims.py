"""Claiming a device: an owner types the code from the box and the device becomes theirs."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from cloud.api.deps import ClientAddressDep, OwnerIdDep, ReposDep
from cloud.api.schemas.claims import ClaimIn, ClaimOut
from cloud.api.schemas.common import to_datetime
from cloud.db.claims import ClaimedByAnother, ClaimThrottled, UnknownClaimCode

router = APIRouter(prefix="/claims", tags=["claims"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "the caller had claimed this device already"},
        404: {"description": "no device has this claim code (a wrong attempt)"},
        409: {"description": "another owner has claimed the device"},
        429: {"description": "too many wrong codes lately; see Retry-After"},
    },
)
def claim_device(
    body: ClaimIn,
    owner_id: OwnerIdDep,
    client: ClientAddressDep,
    repos: ReposDep,
    response: Response,
) -> ClaimOut:
    """Claim the device whose box carries ``claim_code``: 201, or 200 when the caller
    owns it already (claiming is idempotent for its owner). Wrong codes are counted per
    account and per client address; past the limit every claim, right or wrong, answers
    429 with ``Retry-After`` until the window has moved on."""
    try:
        claim = repos.claims.claim(owner_id, client, body.claim_code)
    except ClaimThrottled as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    except UnknownClaimCode as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except ClaimedByAnother as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if not claim.created:
        response.status_code = status.HTTP_200_OK
    return ClaimOut(
        device_id=claim.device_id,
        model=claim.model,
        firmware=claim.firmware,
        claimed_at=to_datetime(claim.claimed_at),
    )
