"""Factory identities for a simulated fleet, so its devices provision themselves as
devices from a manufacturing batch do."""

from __future__ import annotations

from cloud.db.factory import FactoryRegistry
from cloud.identity import FactoryBatch
from device_agent.identity import new_claim_code, new_device_secret
from firmware_sim.fleet import FleetSpec
from firmware_sim.models.registry import model_class


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
    for model, devices in fresh.items():
        body = {"model": model, "firmware": model_class(model).FIRMWARE, "devices": devices}
        registry.import_batch(FactoryBatch.model_validate(body))
    return secrets
