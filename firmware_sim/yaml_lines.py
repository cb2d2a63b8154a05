"""Where in a YAML file a value came from, so a refusal can say ``file:line: field``.

A pydantic error's ``loc`` mixes the document's keys and indexes with the names of union
branches (``list``, ``incident_within``); walking the composed YAML nodes along the loc
keeps the parts that exist in the file and drops the others, which gives both the line
and the field path as the author wrote it (``faults[0].at_s``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

__all__ = ["YamlSource"]


@dataclass(frozen=True)
class YamlSource:
    """A file's name and its composed node tree (None for an empty document)."""

    name: str
    root: yaml.Node | None

    @classmethod
    def parse(cls, name: str, text: str) -> YamlSource:
        """Raises yaml.YAMLError for text that is not YAML."""
        return cls(name, yaml.compose(text, Loader=yaml.SafeLoader))

    def locate(self, loc: Sequence[int | str], missing: bool = False) -> tuple[int, str]:
        """(1-based line, field path) of the deepest node ``loc`` reaches. A ``missing``
        field (loc's last part) points at the mapping that should hold it."""
        node = self.root
        path = ""
        for part in loc[:-1] if missing and loc else loc:
            child = _child(node, part)
            if child is None:
                continue  # a union branch's name, or a key the file does not have
            node = child
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        if missing and loc:
            last = loc[-1]
            path += f"[{last}]" if isinstance(last, int) else (f".{last}" if path else str(last))
        line = node.start_mark.line + 1 if node is not None else 1
        return line, path

    def where(self, loc: Sequence[int | str], missing: bool = False) -> str:
        """``name:line: field`` (or ``name:line`` for the document itself)."""
        line, path = self.locate(loc, missing)
        return f"{self.name}:{line}: {path}" if path else f"{self.name}:{line}"


def _child(node: yaml.Node | None, part: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value  # type: ignore[no-any-return]
        return None
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        return node.value[part]  # type: ignore[no-any-return]
    return None
