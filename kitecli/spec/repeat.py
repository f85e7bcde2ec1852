"""`repeat: {until, max, then}`: bounded iteration, the one safe form of a cycle. Built from
pipeline.yaml here and checked at the user's line; run by run/repeating.py.

What is refused (docs/repeat.md), because an iteration's output takes the place of its
input: a stage that does not read exactly one whole folder (no `each:`) and write exactly
one output; `batch:`; a stage that runs in pods (iterations are local processes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kitecli.errors import Diagnostic
from kitecli.spec.model import Repeat, Stage
from kitecli.spec.yamlpos import Locator, PathT

PREVIOUS = "inputs.previous"  # the template name of iteration k-1's output (k = 1: the input)
UNTIL_NAMES = ("iteration", "files", "bytes", "names", "metrics", "previous")
METRICS_FILE = "metrics.json"  # `metrics` in `until`: this file of the output, parsed
SAFE = "repeat: needs one whole-folder input (no `each:`), one output and local processes"


def build(raw: dict[str, Any] | None, loc: Locator, at: PathT) -> Repeat | None:
    """The stage's `repeat:` (schema-valid), or None."""
    if raw is None:
        return None
    line, col = loc.at((*at, "repeat"))
    return Repeat(
        until=raw["until"],
        max=int(raw["max"]),
        then=raw.get("then", "failed"),
        at=f"{loc.file}:{line}:{col}",
    )


def check(stage: Stage, raw: dict[str, Any], loc: Locator) -> Iterator[Diagnostic]:
    """What keeps a stage with `repeat:` from iterating safely, at its line."""
    if stage.repeat is None:
        return
    at: PathT = ("stages", stage.base)
    hint = SAFE + " (docs/repeat.md)"
    if len(stage.inputs) != 1:
        yield loc.diag(
            (*at, "repeat"), "a stage with `repeat:` reads exactly one input", hint, key=True
        )
    elif stage.inputs[0].keyed:
        name = stage.inputs[0].name
        yield loc.diag(
            (*at, "inputs", name, "each"),
            "a stage with `repeat:` reads its input as one whole folder: iteration k reads "
            "the whole output of iteration k-1",
            hint,
        )
    if len(stage.outputs) != 1:
        yield loc.diag(
            (*at, "repeat"), "a stage with `repeat:` writes exactly one output", hint, key=True
        )
    if stage.batch != 1:
        yield loc.diag((*at, "batch"), "`batch:` cannot be used with `repeat:`", hint)
    if stage.executor == "kubernetes":
        yield loc.diag((*at, "executor"), "`repeat:` iterations run as local processes", hint)
