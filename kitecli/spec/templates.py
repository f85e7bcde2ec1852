"""`{{ name }}` substitution in commands: names only, no logic, never through a shell."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)?)\s*")
NAMESPACES = ("inputs", "outputs", "datum", "params", "matrix", "run")


@dataclass(frozen=True)
class Reference:
    """One `{{ ... }}` in a string: `name` is None when its content is not a name."""

    start: int
    end: int
    text: str
    name: str | None


def references(text: str) -> Iterator[Reference]:
    """Every `{{ ... }}` in `text`, in order."""
    for match in _TEMPLATE.finditer(text):
        inner = _NAME.fullmatch(match.group(1))
        name = inner.group(1) if inner else None
        yield Reference(match.start(), match.end(), match.group(0), name)


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute every reference; a name missing from `values` raises KeyError."""
    out, pos = [], 0
    for ref in references(text):
        out.append(text[pos : ref.start])
        if ref.name is None:
            raise KeyError(ref.text)
        out.append(values[ref.name])
        pos = ref.end
    out.append(text[pos:])
    return "".join(out)
