"""Factory identities for a simulated fleet, so its devices provision themselves as
devices from a manufacturing batch do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloud.db.factory import FactoryRegistry
from cloud.identity import FactoryBatch
from device_agent.identity import new_claim_code, new_device_secret
from firmware_sim.fleet import FleetSpec
from firmware_sim.models.registry import model_class


def register_boxes(
    registry: FactoryRegistry, identities: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """Imports ``(model, device_id)`` as a batch per model; returns each claim code (the
    registry keeps only its digest, so a device registered before has none to give:
    ValueError names them). Blocking (database writes)."""
    known = [device_id for _, device_id in identities if registry.is_known(device_id)]
    if known:
        raise ValueError(f"already in the factory registry, their box codes unknown: {known[:5]}")
    codes = {device_id: new_claim_code() for _, device_id in identities}
    by_model: dict[str, list[dict[str, str]]] = {}
    for model, device_id in identities:
        entry = {"device_id": device_id, "device_secret": new_device_secret()}
        by_model.setdefault(model, []).append({**entry, "claim_code": codes[device_id]})
    _import(registry, by_model)
    return codes


def register_fleet(registry: FactoryRegistry, spec: FleetSpec) -> dict[str, str]:
    """Imports new devices as a manufacturing batch per model would; devices an earlier
    run registered (the same database) get rotated secrets. Returns each device's
    secret. Blocking (database writes): call it from a worker thread in async code."""
    secrets: dict[str, str] = {}
    fresh: dict[str, list[dict[str, str]]] = {}
    for model, device_id in spec.identities():
        if registry.is_known(device_id):
            with registry.engine.begin() as conn:
                rotated = registry.rotate_credentials(conn, device_id)
            if rotated is not None:
                secrets[device_id] = rotated.device_secret
            continue
        secrets[device_id] = new_device_secret()
        entry = {"device_id": device_id, "device_secret": secrets[device_id]}
        fresh.setdefault(model, []).append({**entry, "claim_code": new_claim_code()})
    _import(registry, fresh)
    return secrets


def _import(registry: FactoryRegistry, by_model: Mapping[str, list[dict[str, str]]]) -> None:
    for model, devices in by_model.items():
        body = {"model": model, "firmware": model_class(model).FIRMWARE, "devices": devices}
        registry.import_batch(FactoryBatch.model_validate(body))
