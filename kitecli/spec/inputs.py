"""Checks of a stage's inputs: `exclude:` globs that cannot be read and `ready:` markers that
use fields the datum has not (errors), and one input inside another (a warning: valid, but
rarely what the user means)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Set
from typing import Any

from kitecli.errors import Diagnostic
from kitecli.scan.ignore import GlobError, compile_globs
from kitecli.spec.model import Pipeline, Stage
from kitecli.spec.yamlpos import Locator, PathT


def check_excludes(stage: Stage, raw: dict[str, Any], loc: Locator) -> Iterator[Diagnostic]:
    """Every `exclude:` glob of the stage's inputs that gitignore syntax cannot read."""
    for inp in stage.inputs:
        spec = raw.get("inputs", {}).get(inp.name)
        written = spec.get("exclude") if isinstance(spec, dict) else None
        at: PathT = ("stages", stage.base, "inputs", inp.name, "exclude")
        for index, glob in enumerate(inp.exclude):
            try:
                compile_globs([glob])
            except GlobError as exc:
                where = (*at, index) if isinstance(written, list) else at
                yield loc.diag(
                    where,
                    f"invalid `exclude` glob {glob!r}: {exc}",
                    "globs follow .gitignore: `*.tmp`, `scratch/`, `**/*.log`; "
                    "a trailing backslash needs a character after it",
                )


FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_ready(
    stage: Stage, raw: dict[str, Any], fields: Set[str], loc: Locator
) -> Iterator[Diagnostic]:
    """Every `ready:` marker that leaves its input's folder or names a field the datum's
    key has not (`fields`: the stage's key fields and those derived from a date)."""
    for inp in stage.inputs:
        if inp.ready is None or inp.ready.marker is None:
            continue
        spec = raw["inputs"][inp.name]["ready"]
        at: PathT = ("stages", stage.base, "inputs", inp.name, "ready")
        at = at if isinstance(spec, str) else (*at, "marker")
        marker = inp.ready.marker
        if marker.startswith(("/", "../")) or marker == "..":
            yield loc.diag(
                at,
                f"`ready` marker {marker!r} is not inside the input's folder {inp.path}/",
                "name the marker relative to the input's folder, e.g. `_SUCCESS`",
            )
        for name in FIELD.findall(marker):
            if name not in fields:
                known = ", ".join(f"{{{f}}}" for f in sorted(fields)) or "none"
                yield loc.diag(
                    at,
                    f"`ready` marker {marker!r} uses {{{name}}}, which is not a field of "
                    f"the datum's key",
                    f"a marker may use the fields of the stage's `each` patterns ({known})",
                )


def nested_inputs(pipeline: Pipeline, loc: Locator) -> list[Diagnostic]:
    """A warning for each input of a stage that holds another input of the same stage."""
    found: list[Diagnostic] = []
    seen: set[str] = set()
    for stage in pipeline.stages.values():
        if stage.base in seen:
            continue
        seen.add(stage.base)
        for outer in stage.inputs:
            for inner in stage.inputs:
                if inner is outer or not _holds(outer.path, inner.path):
                    continue
                shown = f"{outer.path}/" if outer.path not in ("", ".") else "the data root"
                found.append(
                    loc.diag(
                        ("stages", stage.base, "inputs", outer.name),
                        f"input {outer.name} ({shown}) holds input {inner.name} "
                        f"({inner.path}/): every datum then depends on every file of "
                        f"{inner.path}/ too, and re-runs whenever one of them changes",
                        f"add `exclude: [{_below(outer.path, inner.path)}/]` to input "
                        f"{outer.name}, or point it at a folder that does not hold "
                        f"{inner.path}/",
                    )
                )
    return found


def _holds(outer: str, inner: str) -> bool:
    if outer == inner:
        return False
    return outer in ("", ".") or inner.startswith(outer + "/")


def _below(outer: str, inner: str) -> str:
    """`inner` relative to `outer`, anchored to it the way a gitignore glob is."""
    rel = inner if outer in ("", ".") else inner[len(outer) + 1 :]
    return "/" + rel
