"""Outreach: owners' inbox and answers, the service team's queue and outcomes, and
owners' contact preferences.

Owners see their own items once delivered (on any channel); another owner's item, or
one not delivered yet, is 404 to them, as a missing one is. The service team sees every
item with where each delivery stands.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from cloud.api.deps import OwnerIdDep, PrincipalDep, ReposDep, ServiceDep
from cloud.api.schemas.outreach import OutcomeIn, OutreachOut, PreferencesOut, ResponseIn
from cloud.db.outreach import ItemNotFound, OutreachItem
from cloud.db.repositories import Repositories
from cloud.db.tokens import Principal
from cloud.outreach.preferences import OwnerPreferences
from cloud.outreach.responses import AnswerRejected, ItemStatus

router = APIRouter(tags=["outreach"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such item, another owner's, or not delivered yet"}
}


def _visible(item: OutreachItem | None, principal: Principal) -> bool:
    if item is None:
        return False
    if principal.role == "service":
        return True
    return item.owner_id == principal.owner_id and item.delivered_at is not None


def _item(item_id: int, repos: Repositories, principal: Principal) -> OutreachItem:
    item = repos.outreach.get(item_id)
    if item is None or not _visible(item, principal):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no outreach item {item_id}")
    return item


def _out(repos: Repositories, principal: Principal, items: list[OutreachItem]) -> list[OutreachOut]:
    if principal.role != "service":
        return [OutreachOut.of(item) for item in items]
    deliveries = repos.deliveries.for_items([i.id for i in items])
    return [OutreachOut.of(item, deliveries[item.id]) for item in items]


@router.get("/outreach")
def list_outreach(
    repos: ReposDep,
    principal: PrincipalDep,
    status_: Annotated[ItemStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[OutreachOut]:
    """Newest first. An owner: their delivered items (the inbox). The service team:
    every item, with its deliveries (the queue)."""
    if principal.role == "service":
        items = repos.outreach.items(status=status_, limit=limit)
    else:
        items = repos.outreach.items(
            owner_id=principal.owner_id, status=status_, delivered_only=True, limit=limit
        )
    return _out(repos, principal, items)


@router.get("/outreach/{item_id}", responses=NOT_FOUND)
def get_outreach(item_id: int, repos: ReposDep, principal: PrincipalDep) -> OutreachOut:
    return _out(repos, principal, [_item(item_id, repos, principal)])[0]


@router.post(
    "/outreach/{item_id}/response",
    responses={
        **NOT_FOUND,
        409: {"description": "the item is closed"},
        422: {"description": "the answer does not fit the item"},
    },
)
def respond(item_id: int, body: ResponseIn, repos: ReposDep, owner_id: OwnerIdDep) -> OutreachOut:
    """The owner's answer (owner token): booked, rescheduled, declined, snoozed or
    rated; logged for the service team and for learning the owner's habits."""
    _item(item_id, repos, Principal("owner", owner_id))
    try:
        item = repos.outreach.respond(item_id, owner_id, body.answer(repos.clock.now()))
    except ItemNotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no outreach item {item_id}"
        ) from None
    except AnswerRejected as exc:
        code = status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, detail=str(exc)) from None
    return OutreachOut.of(item)


@router.post("/outreach/{item_id}/outcome", responses={404: {"description": "no such item"}})
def record_outcome(item_id: int, body: OutcomeIn, repos: ReposDep, _: ServiceDep) -> OutreachOut:
    """What happened at the visit, or why there was none (service token); closes the
    item as ``done``."""
    try:
        item = repos.outreach.record_outcome(item_id, body.outcome, body.note)
    except ItemNotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no outreach item {item_id}"
        ) from None
    return OutreachOut.of(item, repos.deliveries.for_items([item_id])[item_id])


@router.get("/owners/me/preferences")
def get_preferences(repos: ReposDep, owner_id: OwnerIdDep) -> PreferencesOut:
    """The owner's contact terms (the defaults until they set theirs)."""
    return PreferencesOut.of(repos.outreach.preferences(owner_id))


@router.put("/owners/me/preferences")
def put_preferences(
    body: OwnerPreferences, repos: ReposDep, owner_id: OwnerIdDep
) -> PreferencesOut:
    """Replace the owner's contact terms. Setting or changing ``webhook_url`` returns
    the webhook's new signing secret, this once."""
    stored, secret = repos.outreach.set_preferences(owner_id, body)
    return PreferencesOut.of(stored, secret)
