"""Request dependencies, declared once and used by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.auth import Principal, TokenStore
from cloud.db.incidents import IncidentStore
from cloud.db.store import DeviceRecord, Store

_bearer = HTTPBearer(auto_error=False)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


def get_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    tokens: Annotated[TokenStore, Depends(get_tokens)],
) -> Principal:
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None:
        raise unauthorised
    principal = tokens.principal_for(credentials.credentials)
    if principal is None:
        raise unauthorised
    return principal


def get_incident_store(request: Request) -> IncidentStore:
    incident_store: IncidentStore = request.app.state.incidents
    return incident_store


StoreDep = Annotated[Store, Depends(get_store)]
IncidentStoreDep = Annotated[IncidentStore, Depends(get_incident_store)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def visible_device(device_id: str, store: StoreDep, principal: PrincipalDep) -> DeviceRecord:
    """The device, if the caller may see it; 404 otherwise (an owner cannot tell another
    owner's device from a missing one)."""
    device = store.get_device(device_id)
    if device is None or not principal.may_see(device.owner_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    return device


VisibleDeviceDep = Annotated[DeviceRecord, Depends(visible_device)]
