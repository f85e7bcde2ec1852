"""Fingerprints: digests of everything that determines what a stage and each datum produce.

The stage definition fingerprint covers `image`, `command`, `env`, the values of the params
the stage references (pipeline params overridden by its matrix), the content of its `code:`
files, `version:`, the matrix, `repeat:` (which iteration's output is kept), its outputs'
`accept:` checks with the content of their
`json_schema` files (a datum's output is only what passed them), and what keeps files out of
its inputs (`exclude:` globs, `.kiteignore` files). Fields that change only
how a stage runs (resources, concurrency, batch, retries, timeout, identity, node_selector,
tolerations, executor) are left out on purpose: changing them re-runs nothing.
Pure: values in, digests out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blake3 import blake3

from kitecli.errors import KiteError
from kitecli.plan.datums import Datum
from kitecli.scan.hashing import PREFIX, canonical, digest_bytes, utf8
from kitecli.spec import gates
from kitecli.spec.model import Stage

STAGE_TAG = "kite-stage-1"
DATUM_TAG = "kite-datum-1"
CORE_PARTS = ("command", "image", "env", "version", "matrix")


@dataclass(frozen=True)
class Definition:
    """A stage definition's fingerprint and the digest of each part it is made of.

    Part names: "command", "image", "env", "version", "matrix", "params.NAME", "code:PATH",
    and for a stage with acceptance checks "accept" and "schema:PATH" (a `json_schema` file).
    """

    fingerprint: str
    parts: Mapping[str, str]


def _digest(value: Any) -> str:
    return digest_bytes(canonical(value))


def stage_params(stage: Stage, params: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the params `stage` references: the pipeline's, overridden by its matrix."""
    merged = {**params, **stage.matrix}
    return {name: merged.get(name) for name in stage.params}


def definition(
    stage: Stage,
    *,
    params: Mapping[str, Any],
    code: Mapping[str, str],
    ignores: Mapping[str, str] | None = None,
) -> Definition:
    """The definition fingerprint of `stage`; `code` maps each `code:` path to its digest,
    `ignores` each `.kiteignore` of the data root (relative path) to its digest."""
    parts = {
        "command": _digest(list(stage.command)),
        "image": _digest(stage.image),
        "env": _digest(dict(stage.env)),
        "version": _digest(stage.version),
        "matrix": _digest(dict(stage.matrix)),
    }
    for name, value in stage_params(stage, params).items():
        parts[f"params.{name}"] = _digest(value)
    for path in stage.code:
        if path not in code:
            raise KiteError(
                f"stage {stage.name}: code file {path} was not hashed",
                hint="pass the digest of every `code:` file to the fingerprint",
            )
        parts[f"code:{path}"] = code[path]
    if stage.repeat is not None:  # only then, as for `accept`: the part would re-run all
        parts["repeat"] = _digest([stage.repeat.until, stage.repeat.max, stage.repeat.then])
    parts.update(_gate_parts(stage, code))
    parts.update(_exclusion_parts(stage, ignores or {}))
    return Definition(_digest([STAGE_TAG, sorted(parts.items())]), parts)


def _gate_parts(stage: Stage, code: Mapping[str, str]) -> dict[str, str]:
    """The parts of the outputs' `accept:` checks: none for a stage without checks."""
    parts: dict[str, str] = {}
    checks = gates.definition(stage)
    if checks:  # only then: adding the part to every stage would re-run every stage
        parts["accept"] = _digest(checks)
    for path in gates.schema_files(stage):
        if path not in code:
            raise KiteError(
                f"stage {stage.name}: schema file {path} was not hashed",
                hint="pass the digest of every `accept.json_schema` file to the fingerprint",
            )
        parts[f"schema:{path}"] = code[path]
    return parts


def _exclusion_parts(stage: Stage, ignores: Mapping[str, str]) -> dict[str, str]:
    """The inputs' `exclude:` globs and the `.kiteignore` files inside the inputs: none for
    a stage without exclusions (adding a part to every stage would re-run every stage)."""
    globs = {i.name: list(i.exclude) for i in stage.inputs if i.exclude}
    parts = {"exclude": _digest(globs)} if globs else {}
    for path, digest in ignores.items():
        if any(i.path in ("", ".") or path.startswith(i.path + "/") for i in stage.inputs):
            parts[f"ignore:{path}"] = digest
    return parts


def changed_parts(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Names of the parts that differ (added, removed or changed), in a stable order."""
    names = [n for n in {*old, *new} if old.get(n) != new.get(n)]
    return sorted(names, key=_part_order)


def _part_order(name: str) -> tuple[int, str]:
    if name in CORE_PARTS:
        return CORE_PARTS.index(name), ""
    return (len(CORE_PARTS), name) if name.startswith("params.") else (len(CORE_PARTS) + 1, name)


def datum_fingerprint(definition_fp: str, datum: Datum) -> str:
    """H(definition, key, each keyed input file's (path, digest), each whole input's root).

    The bytes hashed are NUL-separated fields (no path, name or digest holds a NUL), each
    record introduced by a tag that fixes how many fields follow: `k` field value,
    `f` input path digest, `r` input root.
    """
    # (one name needs no sorting: most datums have one key field, input and file)
    fields = [DATUM_TAG, definition_fp]
    add = fields.extend
    key, files, roots = datum.key, datum.files, datum.roots
    for name in sorted(key) if len(key) > 1 else key:
        add(("k", name, key[name]))
    for name in sorted(files) if len(files) > 1 else files:
        found = files[name]
        for path in sorted(found) if len(found) > 1 else found:
            add(("f", name, path, found[path].digest))
    for name in sorted(roots) if len(roots) > 1 else roots:
        add(("r", name, roots[name]))
    return PREFIX + blake3(utf8("\0".join(fields))).hexdigest()


ITERATION_TAG = "kite-iteration-1"


def iteration_fingerprint(
    definition_fp: str, key: Mapping[str, str], iteration: int, previous: str
) -> str:
    """H(definition, key, k, root of what iteration k reads): iteration 1 reads the stage's
    input, iteration k > 1 the output of iteration k-1 (`repeat:`). An iteration that reads
    what it read before is found in the run cache, however its input came about."""
    fields = [ITERATION_TAG, definition_fp, str(iteration), previous]
    for name in sorted(key):
        fields += ["k", name, key[name]]
    return PREFIX + blake3(utf8("\0".join(fields))).hexdigest()
