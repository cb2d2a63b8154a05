"""Occasional-fault schedules for a simulated fleet, drawn from each model's fault menu.

Kept apart from :mod:`firmware_sim.faults` because it needs the device models, which
themselves need the fault definitions: faults -> models -> fault plans, no cycle.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

from firmware_sim.faults import Fault
from firmware_sim.models.registry import model_class
from firmware_sim.models.signals import SECONDS_PER_DAY

__all__ = ["plan_faults"]


def plan_faults(
    device_ids: Sequence[str],
    models: Mapping[str, str] | Sequence[str] | str,
    rng_seed: int,
    start_s: float,
    duration_s: float,
    rate_per_device_day: float,
) -> dict[str, list[Fault]]:
    """Draw an occasional-fault schedule for a fleet.

    Faults arrive per device as a Poisson process of ``rate_per_device_day`` within
    ``[start_s, start_s + duration_s)``; each is picked from the device model's fault menu
    (weighted), at most once per signature per device. About half last until fixed, the
    rest end by themselves after 10 minutes to 6 hours. ``models`` is one model id for the
    whole fleet, a sequence parallel to ``device_ids`` or a mapping device id -> model.
    The plan for a device depends only on (rng_seed, device id, model, times, rate).
    """
    if duration_s < 0 or rate_per_device_day < 0:
        raise ValueError("duration_s and rate_per_device_day must not be negative")
    model_of = _models_by_device(device_ids, models)
    return {
        device_id: _plan_one(
            device_id, model_of[device_id], rng_seed, start_s, duration_s, rate_per_device_day
        )
        for device_id in device_ids
    }


def _models_by_device(
    device_ids: Sequence[str], models: Mapping[str, str] | Sequence[str] | str
) -> dict[str, str]:
    if isinstance(models, str):
        return dict.fromkeys(device_ids, models)
    if isinstance(models, Mapping):
        missing = [d for d in device_ids if d not in models]
        if missing:
            raise ValueError(f"no model given for devices {missing[:5]}")
        return {d: models[d] for d in device_ids}
    if len(models) != len(device_ids):
        raise ValueError(f"{len(models)} models given for {len(device_ids)} devices")
    return dict(zip(device_ids, models, strict=True))


def _plan_one(
    device_id: str, model: str, rng_seed: int, start_s: float, duration_s: float, rate: float
) -> list[Fault]:
    menu = dict(model_class(model).FAULT_MENU)
    digest = hashlib.sha256(f"plan:{rng_seed}:{device_id}:{model}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    faults: list[Fault] = []
    t = start_s
    while rate > 0 and menu:
        t += rng.expovariate(rate / SECONDS_PER_DAY)
        if t >= start_s + duration_s:
            break
        signature = rng.choices(list(menu), weights=list(menu.values()))[0]
        del menu[signature]
        lasting = None if rng.random() < 0.5 else rng.uniform(600.0, 6 * 3600.0)
        magnitude = round(rng.uniform(0.7, 1.5), 3)
        faults.append(Fault.from_signature(signature, round(t, 3), lasting, magnitude))
    return faults
