"""Data files the cloud reads as YAML and validates with pydantic (playbooks, setup
checklists): one loader, so every such file is refused the same way, with its path, the
line at fault and the reason, before anything uses it.

Pure: no database, web or MQTT; the pure cores may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

__all__ = ["KEY", "DataFileError", "load_yaml_model"]

KEY = "[key]"
"""pydantic's location part for a mapping key that failed validation."""

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound="DataFileError")


class DataFileError(ValueError):
    """A data file that cannot be used: ``path:line: reason``."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


Relocate = Callable[[ErrorDetails], tuple[Any, ...] | None]
"""Where a validation error really points, when a whole-entry rule reports it on the
entry's parent (None: where pydantic says)."""


def load_yaml_model(
    path: Path, model: type[M], error: type[E], relocate: Relocate | None = None
) -> M:
    """Parse ``path`` as YAML and validate it as ``model``; raises ``error`` (a
    DataFileError) naming the line at fault for unreadable, non-YAML or invalid files."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(path, None, f"cannot read: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise error(path, line, f"not YAML: {exc.problem}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = exc.errors()[0]
        loc = tuple(details["loc"])
        field = ".".join(str(part) for part in loc)
        reason = f"{field}: {details['msg']}" if field else details["msg"]
        moved = relocate(details) if relocate is not None else None
        raise error(path, line_of(root, moved or loc), reason) from None


def line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location (as deep as the
    document goes: a missing field points at its parent)."""
    if node is None:
        return None
    for index, part in enumerate(loc):
        child = None
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is not None:
                key, child = pair
                if loc[index + 1 : index + 2] == (KEY,):  # the key itself is at fault
                    return int(key.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1
