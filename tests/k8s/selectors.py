"""Kubernetes label selectors (`a=b,c!=d,e,!f,g in (x,y),h notin (z)`) for the fake server."""

from __future__ import annotations

import re
from typing import Any

_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


def matches(selector: str, obj: dict[str, Any]) -> bool:
    """True when the object's labels satisfy every term of `selector`."""
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    position = 0
    while position < len(selector):
        term = _TERM.match(selector, position)
        if term is None or term.end() == position:
            raise ValueError(f"cannot parse label selector {selector!r}")
        position = term.end()
        if not _holds(term, labels):
            return False
    return True


def _holds(term: re.Match[str], labels: dict[str, str]) -> bool:
    if term.group("not"):
        return term.group("absent") not in labels
    key = term.group("key")
    if term.group("op"):
        equal = labels.get(key) == term.group("value")
        return equal if term.group("op") != "!=" else not equal
    if term.group("setop"):
        values = {v.strip() for v in term.group("values").split(",")}
        inside = labels.get(key) in values
        return inside if term.group("setop") == "in" else not inside
    return key in labels
