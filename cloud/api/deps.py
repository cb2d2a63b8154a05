"""Request dependencies, declared once and used by every router."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.db.fleet_models import ModelRegistry
from cloud.db.incidents import IncidentStore
from cloud.db.records import DeviceRecord
from cloud.db.repositories import Repositories
from cloud.db.telemetry import TelemetryStore
from cloud.db.tokens import Principal
from cloud.learning import Trainer

_bearer = HTTPBearer(auto_error=False)


def get_repos(request: Request) -> Repositories:
    repos: Repositories = request.app.state.repos
    return repos


ReposDep = Annotated[Repositories, Depends(get_repos)]


class BrokerAccounts(Protocol):
    """The broker's per-device accounts, as the API needs them (``DynsecAdmin``)."""

    def revoke_device(self, device_id: str) -> bool:
        """Delete the device's broker client, cutting off its sessions; idempotent.
        Raises RuntimeError (``DynsecError``) when the broker cannot do it."""
        ...


def get_broker_accounts(request: Request) -> BrokerAccounts | None:
    accounts: BrokerAccounts | None = request.app.state.broker_accounts
    return accounts


BrokerAccountsDep = Annotated[BrokerAccounts | None, Depends(get_broker_accounts)]
"""None when the cloud does not manage the broker (no dynsec admin configured)."""


def get_telemetry_store(repos: ReposDep) -> TelemetryStore:
    return repos.telemetry


def get_incident_store(repos: ReposDep) -> IncidentStore:
    return repos.incidents


def get_model_registry(repos: ReposDep) -> ModelRegistry:
    return repos.models


def get_trainer(repos: ReposDep) -> Trainer:
    return repos.trainer


def get_caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    repos: ReposDep,
) -> Principal:
    """Whoever holds a valid token, in any role. Only routes that serve every role use it
    directly (simulation runs, live updates); the rest take :data:`PrincipalDep`."""
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None:
        raise unauthorised
    principal = repos.tokens.principal_for(credentials.credentials)
    if principal is None:
        raise unauthorised
    return principal


CallerDep = Annotated[Principal, Depends(get_caller)]


def get_principal(caller: CallerDep) -> Principal:
    """The service team or an owner. A manufacturer's token is refused here, once, so no
    route that reads ``role != "service"`` as "an owner" hands a manufacturer an owner's
    view (with no owner id, that could be everyone's devices)."""
    if caller.role == "manufacturer":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="a manufacturer token opens simulation runs only",
        )
    return caller


StoreDep = Annotated[TelemetryStore, Depends(get_telemetry_store)]
IncidentStoreDep = Annotated[IncidentStore, Depends(get_incident_store)]
RegistryDep = Annotated[ModelRegistry, Depends(get_model_registry)]
TrainerDep = Annotated[Trainer, Depends(get_trainer)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def service_only(principal: PrincipalDep) -> Principal:
    """For what describes the whole fleet: owners may not see or change it."""
    if principal.role != "service":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a service token is required")
    return principal


ServiceDep = Annotated[Principal, Depends(service_only)]


def owner_only(principal: PrincipalDep) -> str:
    """For what only an owner does for themselves (claiming a device); their owner id."""
    if principal.role != "owner" or principal.owner_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="an owner token is required")
    return principal.owner_id


OwnerIdDep = Annotated[str, Depends(owner_only)]


def sim_runs_reader(caller: CallerDep) -> Principal:
    """Simulation runs are for the service team and manufacturers, not for owners."""
    if caller.role not in ("service", "manufacturer"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="simulation runs need a service or manufacturer token",
        )
    return caller


SimRunsDep = Annotated[Principal, Depends(sim_runs_reader)]


def client_address(request: Request) -> str:
    """The caller's address as the server sees it. Behind a reverse proxy that is the
    proxy's unless uvicorn trusts its ``X-Forwarded-For`` (it trusts 127.0.0.1; others
    via ``FORWARDED_ALLOW_IPS``); otherwise claim throttling counts the proxy's clients
    as one address."""
    return request.client.host if request.client is not None else "unknown"


ClientAddressDep = Annotated[str, Depends(client_address)]


def visible_device(device_id: str, store: StoreDep, principal: PrincipalDep) -> DeviceRecord:
    """The device, if the caller may see it; 404 otherwise (an owner cannot tell another
    owner's device from a missing one)."""
    device = store.get_device(device_id)
    if device is None or not principal.may_see(device.owner_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    return device


VisibleDeviceDep = Annotated[DeviceRecord, Depends(visible_device)]
