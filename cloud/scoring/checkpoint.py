"""Per-device scoring state as compact, versioned data: never pickle.

A device's detectors learn for a day before they may name a fault; losing that on every
restart (or every move of a device to another scoring worker) would silence them for a
day after each deploy. This module turns a device's diagnoser and incident-tracker state
into zlib-compressed JSON and back.

Safety: decoding rebuilds only the classes in :data:`ALLOWED` (the detection and
diagnosis classes, by qualified name), never calls their constructors or any code named
in the data, and accepts only plain JSON values, numbers, containers and numpy arrays of
plain numeric dtypes. Anything else is a :class:`CheckpointError`, and the device simply
learns again.

Compatibility: :data:`VERSION` changes whenever the layout of the state (the classes and
their attributes, :func:`layout`) changes; a test pins :data:`LAYOUT_DIGEST`, so a change
to a detector's attributes fails CI until the version is bumped. A checkpoint of another
version is discarded, never half-applied.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import hashlib
import json
import math
import zlib
from typing import Any

import numpy as np

from cloud.detect.decide import AlertPolicy, AlertState
from cloud.detect.detectors import SurpriseDetector
from cloud.detect.monitor import MonitorConfig, StreamMonitor
from cloud.detect.tail import TailCalibrator
from cloud.detect.univariate import UnivariateConfig, UnivariateState
from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.patterns import TrendTracker
from cloud.diagnosis.shapes import ShapeBank
from cloud.incidents.tracker import Finding, TrackerState

VERSION = 7
"""4: exact compact tails in the detection core's arrays; 5: Finding.persisted (tracker
states), repeat statistics that count a run once it has ended, and the diagnosis' shape
detectors held as arrays; 6: trends as arrays too; 7: Finding.fresh, when the
link drops were last counted, and the latest counter readings (restarts)."""
LAYOUT_DIGEST = "76f03e00d2828946"
"""sha256 of :func:`layout` for a warmed-up diagnoser; see tests/cloud/scoring."""

ALLOWED: dict[str, type] = {
    f"{cls.__module__}.{cls.__qualname__}": cls
    for cls in (
        AlertPolicy,
        AlertState,
        SurpriseDetector,
        MonitorConfig,
        StreamMonitor,
        TailCalibrator,
        UnivariateConfig,
        UnivariateState,
        DeviceDiagnoser,
        ShapeBank,
        TrendTracker,
        Finding,
        TrackerState,
    )
}
TRANSIENT = {"DeviceDiagnoser": frozenset({"fleet_model", "profile", "_held", "_suspected"})}
"""Attributes wired by the scoring worker, not learned: re-injected on restore (the
held metrics before every batch)."""
BUILTIN_FACTORIES: dict[str, type] = {"float": float, "int": int, "list": list}
PACK_AT = 16
"""Lists of at least this many floats travel as packed float64, not as decimal text."""
NUMERIC_DTYPES = frozenset({"float64", "float32", "int64", "int32", "bool"})


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or read; the message says why."""


@dataclasses.dataclass(frozen=True)
class DeviceState:
    """What a device's scoring keeps between samples."""

    diagnoser: DeviceDiagnoser
    tracker: dict[str, TrackerState]
    last_ts: float | None


def encode(state: DeviceState) -> bytes:
    encoder = _Encoder()
    payload = {
        "v": VERSION,
        "state": encoder.encode(state.diagnoser),
        "tracker": {k: encoder.encode(v) for k, v in state.tracker.items()},
        "last_ts": encoder.encode(state.last_ts),
    }
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)


def decode(blob: bytes, wire: dict[str, Any]) -> DeviceState:
    """Rebuild a device's state; ``wire`` gives the transient attributes to re-inject
    (``fleet_model``, ``profile``). Raises CheckpointError for anything untrusted, of
    another version, or malformed."""
    try:
        payload = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError) as exc:
        raise CheckpointError(f"unreadable checkpoint: {exc}") from None
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise CheckpointError(f"checkpoint version {payload.get('v')!r} is not {VERSION}")
    decoder = _Decoder()
    diagnoser = decoder.decode(payload["state"])
    if not isinstance(diagnoser, DeviceDiagnoser):
        raise CheckpointError("checkpoint holds no diagnoser")
    for name, value in wire.items():
        setattr(diagnoser, name, value)
    tracker = {str(k): decoder.decode(v) for k, v in dict(payload.get("tracker", {})).items()}
    if not all(isinstance(s, TrackerState) for s in tracker.values()):
        raise CheckpointError("checkpoint holds a malformed tracker state")
    last_ts = decoder.decode(payload.get("last_ts"))
    return DeviceState(diagnoser, tracker, last_ts if isinstance(last_ts, float) else None)


def layout(obj: object) -> list[str]:
    """Every allowed class reachable from ``obj`` with its attribute names, sorted."""
    found: set[str] = set()
    _walk_layout(obj, found)
    return sorted(found)


def layout_digest(obj: object) -> str:
    return hashlib.sha256("\n".join(layout(obj)).encode()).hexdigest()[:16]


# --- encoding ---------------------------------------------------------------------------


def _attributes(obj: object) -> dict[str, Any]:
    cls = type(obj)
    values = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    for klass in cls.__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in values and hasattr(obj, slot):
                values[slot] = getattr(obj, slot)
    skip = TRANSIENT.get(cls.__name__, frozenset())
    return {k: v for k, v in values.items() if k not in skip}


class _Encoder:
    """Plain JSON values; an object reached twice (a cache listing the calibrators a
    model also holds by name) is written once and referred to, so identity survives."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            number = float(value)
            return number if math.isfinite(number) else {"f": repr(number)}
        if isinstance(value, np.ndarray):
            return _packed(value)
        if isinstance(value, collections.deque):
            return {"dq": [self.encode(v) for v in value], "max": value.maxlen}
        if isinstance(value, collections.defaultdict):
            return self._defaultdict(value)
        if isinstance(value, dict):
            return {"d": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if isinstance(value, list):
            if len(value) >= PACK_AT and all(type(v) is float for v in value):
                return {"fl": _packed(np.asarray(value, dtype=np.float64))}
            return [self.encode(v) for v in value]
        if isinstance(value, tuple):
            return {"t": [self.encode(v) for v in value]}
        if isinstance(value, set | frozenset):
            return {"s": [self.encode(v) for v in value], "frozen": isinstance(value, frozenset)}
        return self._object(value)

    def _defaultdict(self, value: collections.defaultdict[Any, Any]) -> Any:
        factory = value.default_factory
        name = _class_name(factory) if isinstance(factory, type) else ""
        if name not in ALLOWED and factory not in BUILTIN_FACTORIES.values():
            raise CheckpointError(f"cannot checkpoint a defaultdict of {factory!r}")
        kind = name if name in ALLOWED else getattr(factory, "__name__", "")
        items = [[self.encode(k), self.encode(v)] for k, v in value.items()]
        return {"dd": kind, "items": items}

    def _object(self, value: object) -> Any:
        name = _class_name(type(value))
        if name not in ALLOWED:
            raise CheckpointError(f"cannot checkpoint {name}")
        seen = self._ids.get(id(value))
        if seen is not None:
            return {"ref": seen}
        self._ids[id(value)] = ref = len(self._ids)
        attributes = {k: self.encode(v) for k, v in _attributes(value).items()}
        return {"o": name, "id": ref, "a": attributes}


def _packed(value: np.ndarray) -> dict[str, Any]:
    if value.dtype.name not in NUMERIC_DTYPES:
        raise CheckpointError(f"cannot checkpoint an array of {value.dtype}")
    raw = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()
    return {"nd": value.dtype.name, "shape": list(value.shape), "b": raw}


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- decoding ---------------------------------------------------------------------------


class _Decoder:
    def __init__(self) -> None:
        self._objects: dict[int, object] = {}

    def decode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or len(value) == 0:
            raise CheckpointError("malformed checkpoint value")
        if "f" in value:
            number = float(str(value["f"]))
            if math.isfinite(number):
                raise CheckpointError("a finite number encoded as special")
            return number
        if "nd" in value:
            return _array(value)
        if "fl" in value:
            return [float(x) for x in _array(value["fl"])]
        if "dq" in value:
            maxlen = value.get("max")
            return collections.deque((self.decode(v) for v in value["dq"]), maxlen=maxlen)
        if "dd" in value:
            return self._defaultdict(value)
        if "d" in value:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in value["d"]}
        if "t" in value:
            return tuple(self.decode(v) for v in value["t"])
        if "s" in value:
            items = [_hashable(self.decode(v)) for v in value["s"]]
            return frozenset(items) if value.get("frozen") else set(items)
        if "ref" in value:
            try:
                return self._objects[int(value["ref"])]
            except (KeyError, ValueError):
                raise CheckpointError("reference to an object not seen before") from None
        if "o" in value:
            return self._object(value)
        raise CheckpointError(f"unknown checkpoint value {sorted(value)[:3]}")

    def _defaultdict(self, value: dict[str, Any]) -> collections.defaultdict[Any, Any]:
        kind = str(value["dd"])
        factory = ALLOWED.get(kind) or BUILTIN_FACTORIES.get(kind)
        if factory is None:
            raise CheckpointError(f"defaultdict of {kind!r} is not allowed")
        result: collections.defaultdict[Any, Any] = collections.defaultdict(factory)
        for k, v in value["items"]:
            result[_hashable(self.decode(k))] = self.decode(v)
        return result

    def _object(self, value: dict[str, Any]) -> object:
        name = str(value["o"])
        cls = ALLOWED.get(name)
        if cls is None:
            raise CheckpointError(f"class {name} is not allowed in a checkpoint")
        obj: object = object.__new__(cls)
        self._objects[int(value["id"])] = obj
        for attribute, encoded in dict(value.get("a", {})).items():
            object.__setattr__(obj, str(attribute), self.decode(encoded))
        return obj


def _array(value: dict[str, Any]) -> np.ndarray:
    dtype = str(value["nd"])
    if dtype not in NUMERIC_DTYPES:
        raise CheckpointError(f"array of {dtype} is not allowed")
    shape = tuple(int(n) for n in value["shape"])
    data = base64.b64decode(str(value["b"]))
    array = np.frombuffer(data, dtype=np.dtype(dtype))
    if array.size != math.prod(shape):
        raise CheckpointError("array data does not match its shape")
    return array.reshape(shape).copy()


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _walk_layout(obj: object, found: set[str]) -> None:
    if isinstance(obj, dict):
        for v in obj.values():
            _walk_layout(v, found)
    elif isinstance(obj, list | tuple | set | frozenset | collections.deque):
        for v in obj:
            _walk_layout(v, found)
    elif _class_name(type(obj)) in ALLOWED:
        attributes = _attributes(obj)
        found.add(f"{_class_name(type(obj))}:{','.join(sorted(attributes))}")
        for v in attributes.values():
            _walk_layout(v, found)
