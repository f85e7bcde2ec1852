"""`{{ name }}` substitution in commands: names only, no logic, never through a shell."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)?(?:\.files?)?)\s*")
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


def file_list(text: str) -> str | None:
    """The name of the `{{ inputs.x.files }}` that is the whole of `text`, if it is one."""
    found = list(references(text))
    whole = len(found) == 1 and found[0].text == text.strip()
    name = found[0].name if whole else None
    return name if name and name.endswith(".files") else None


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


def split(text: str) -> list[str]:
    """A string command as argv, split as a POSIX shell would (shlex) but with each
    `{{ ... }}` kept whole, so that `{{ datum.day }}` stays in one item; each item is
    filled in later and a filled-in value is one argument, spaces and all.

    Raises ValueError (from shlex) for an unclosed quote.
    """
    import shlex

    found = list(references(text))
    if not found:
        return shlex.split(text)
    marks = [f"\ue000{index}\ue001" for index in range(len(found))]
    masked, pos = [], 0
    for ref, mark in zip(found, marks, strict=True):
        masked.append(text[pos : ref.start] + mark)
        pos = ref.end
    masked.append(text[pos:])
    items = shlex.split("".join(masked))
    for ref, mark in zip(found, marks, strict=True):
        items = [item.replace(mark, ref.text) for item in items]
    return items
