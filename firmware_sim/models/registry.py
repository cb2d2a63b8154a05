"""Model names to simulated device classes, and the one way to build a device.

A name resolves, in this order, to

1. a built-in model (:data:`MODELS`, by the id the device reports: ``heatpump-hp200``);
2. an installed entry point in group :data:`ENTRY_POINT_GROUP` whose name is the model
   name (a manufacturer's package declares ``washer-wm1 = "washer_example.model:WashingMachine"``);
3. a dotted path ``package.module:ClassName`` importable from ``sys.path``.

So a manufacturer adds a model without touching this project: scenario files, fleets and
``aftercare agent run --simulate`` all resolve names here. The object found must be a
device model class: a subclass of :class:`SimulatedDevice` (the documented way), or a
class with every public member of its interface (checked by name, so the error can say
what is missing). Nothing is imported until a name that is not built in is asked for.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

from device_agent.clock import Clock
from firmware_sim.models.base import SimulatedDevice
from firmware_sim.models.environment import Environment
from firmware_sim.models.evcharger import EvCharger
from firmware_sim.models.heatpump import HeatPump

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODELS",
    "DeviceModelError",
    "NotADeviceModel",
    "UnknownModel",
    "build_device",
    "model_class",
]

MODELS: dict[str, type[SimulatedDevice]] = {
    HeatPump.MODEL: HeatPump,
    EvCharger.MODEL: EvCharger,
}
"""Every built-in simulated model by its model id (what the device reports as ``model``)."""

MODEL_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
"""A model id starts device ids (``washer-wm1-00003``), so it keeps to their characters;
the part before the first dash names the product family (``washer``)."""

ENTRY_POINT_GROUP = "aftercare.device_models"
"""Where installed packages register their own device models, by model name."""

CLASS_CONSTANTS: tuple[str, ...] = tuple(
    sorted(name for name in SimulatedDevice.__annotations__ if name.isupper())
)
"""What a model class declares about itself (``MODEL``, ``FIRMWARE``, ``METRICS``,
``FAULT_MENU``...): a subclass that forgets one fails here, not deep inside a fleet."""
INTERFACE: tuple[str, ...] = tuple(
    sorted({*CLASS_CONSTANTS, *(n for n in dir(SimulatedDevice) if not n.startswith("_"))})
)
"""What a device model class outside the :class:`SimulatedDevice` hierarchy must have:
the fleet, fault planner and factory use these (``MODEL``, ``FAULT_MENU``, ``inject``...)."""


class DeviceModelError(ValueError):
    """A model name that does not give a usable device model; the message says why. A
    ValueError, as any bad name in a scenario file or on the command line is."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownModel(DeviceModelError, KeyError):
    """No built-in model, entry point or importable dotted path has this name; the message
    lists the built-in models and the installed entry points, or why the import failed."""


class NotADeviceModel(DeviceModelError):
    """The name leads to an object that is not a device model class; the message says
    what is missing."""


def model_class(model: str) -> type[SimulatedDevice]:
    """The class simulating ``model`` (a built-in id, an entry point name or
    ``package.module:ClassName``); raises :class:`UnknownModel` or :class:`NotADeviceModel`."""
    if model in MODELS:
        return MODELS[model]
    if ":" in model:
        return _checked(model, _import_dotted(model))
    entry_point = _entry_points(tuple(sys.path)).get(model)
    if entry_point is not None:
        return _checked(f"entry point {model!r} ({entry_point.value})", _load(entry_point))
    plugins = ", ".join(installed_entry_points()) or "none"
    raise UnknownModel(
        f"unknown device model {model!r}; known models: {', '.join(sorted(MODELS))}; "
        f"installed {ENTRY_POINT_GROUP} entry points: {plugins}; "
        "or name a class as 'package.module:ClassName'"
    )


def build_device(
    model: str, device_id: str, clock: Clock, seed: int, environment: Environment | None = None
) -> SimulatedDevice:
    """A fresh simulated device. Same (model, device id, seed, environment) and the same
    sequence of clock readings give the same telemetry, run after run. ``environment``
    (fronts, holidays, a firmware rollout, a mid-run install) is opt-in; None leaves the
    device as it always was."""
    return model_class(model)(device_id, clock, seed, environment)


def installed_entry_points() -> list[str]:
    """Names registered in :data:`ENTRY_POINT_GROUP` by installed packages, sorted."""
    return sorted(_entry_points(tuple(sys.path)))


@lru_cache(maxsize=4)
def _entry_points(search_path: tuple[str, ...]) -> dict[str, EntryPoint]:
    """The group's entry points by name, as installed on ``search_path``. Scanning the
    installed distributions takes milliseconds and a fleet resolves a name per device,
    so the answer is kept until ``sys.path`` changes (which is where they are found)."""
    del search_path  # only the cache key: entry_points() reads sys.path itself
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _load(entry_point: EntryPoint) -> object:
    try:
        return entry_point.load()
    except Exception as exc:  # any error of third-party import code, reported with its cause
        raise UnknownModel(
            f"entry point {entry_point.name!r} in {ENTRY_POINT_GROUP} points to "
            f"{entry_point.value!r}, which does not load: {type(exc).__name__}: {exc}"
        ) from exc


def _import_dotted(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise UnknownModel(f"device model path {path!r} must look like 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error of third-party import code, reported with its cause
        raise UnknownModel(
            f"device model {path!r}: module {module_name!r} does not import "
            f"({type(exc).__name__}: {exc}); is its package installed or on sys.path?"
        ) from exc
    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise UnknownModel(
                f"device model {path!r}: module {module_name!r} has no {attribute!r}"
            ) from None
    return cast(object, found)


def _checked(source: str, found: object) -> type[SimulatedDevice]:
    """``found`` if it is a device model class; NotADeviceModel saying what it lacks."""
    if not inspect.isclass(found):
        raise NotADeviceModel(
            f"{source} is a {type(found).__name__}, not a device model class "
            "(subclass firmware_sim.models.SimulatedDevice)"
        )
    if issubclass(found, SimulatedDevice):
        if inspect.isabstract(found):
            missing = ", ".join(sorted(getattr(found, "__abstractmethods__", ())))
            raise NotADeviceModel(f"{source} is abstract; it must implement: {missing}")
        missing = ", ".join(n for n in CLASS_CONSTANTS if not hasattr(found, n))
        if missing:
            raise NotADeviceModel(f"{source} does not declare {missing}")
    else:
        missing = ", ".join(n for n in INTERFACE if not hasattr(found, n))
        if missing:
            raise NotADeviceModel(
                f"{source} ({found.__qualname__}) is not a device model: it lacks {missing} "
                "(subclass firmware_sim.models.SimulatedDevice to get them)"
            )
    model_id = getattr(found, "MODEL", None)
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        raise NotADeviceModel(
            f"{source} has MODEL {model_id!r}; a model id is lowercase letters, digits, "
            "'_', '.' and '-' (32 at most), like 'washer-wm1'"
        )
    return cast(type[SimulatedDevice], found)
