"""Kubernetes quantities (`512Mi`, `2`, `500m`), and what each attempt of a stage asks
for when `resources.on_retry` grows it (`memory: x2` doubles it at every retry)."""

from __future__ import annotations

import dataclasses
import re

from kitecli.spec.model import Resources

_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_GROW = re.compile(r"x([0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -3, "u": -2, "m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
GROWN = ("cpu", "memory", "ephemeral_storage")


def amount(quantity: str) -> float:
    """The number a quantity stands for (bytes for memory, cores for cpu)."""
    found = _QUANTITY.fullmatch(quantity.strip())
    if found is None:
        raise ValueError(f"not a quantity: {quantity!r} (write 512Mi, 4Gi, 500m or 2)")
    number, suffix = float(found[1]), found[2] or ""
    if suffix in _BINARY:
        return number * float(1024 ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number * float(1000 ** _DECIMAL[suffix])
    return number * float(10 ** int(suffix[1:]))


def scaled(quantity: str, factor: float) -> str:
    """`quantity` times `factor`, in the quantity's own unit: 2Gi x 1.5 is 3Gi."""
    found = _QUANTITY.fullmatch(quantity.strip())
    if found is None:
        raise ValueError(f"not a quantity: {quantity!r}")
    value = float(found[1]) * factor
    text = f"{value:.0f}" if value == int(value) else f"{value:.3f}".rstrip("0")
    return text + (found[2] or "")


def for_attempt(resources: Resources, attempt: int) -> Resources:
    """What attempt `attempt` (1: the first) asks for: the stage's resources, then at each
    retry `on_retry`'s quantity, or the previous attempt's times its `xN`."""
    if attempt <= 1 or not resources.on_retry:
        return resources
    grown: dict[str, str | None] = {}
    for name in GROWN:
        rule = resources.on_retry.get(name)
        current: str | None = getattr(resources, name)
        if rule is None:
            continue
        factor = _GROW.fullmatch(rule)
        if factor is None:
            grown[name] = rule
        elif current is not None:
            grown[name] = scaled(current, float(factor[1]) ** (attempt - 1))
    return dataclasses.replace(resources, **grown)  # type: ignore[arg-type]


def asked(resources: Resources) -> dict[str, str]:
    """The quantities an attempt asked for, as the run record keeps them."""
    found = {n: getattr(resources, n) for n in GROWN if getattr(resources, n) is not None}
    if resources.gpu:
        found["gpu"] = str(resources.gpu)
    return found
