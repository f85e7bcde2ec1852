"""Semantic checks of a built pipeline: each finding a Diagnostic at the user's line."""

from __future__ import annotations

import difflib
from collections.abc import Generator, Iterator
from typing import Any

from kitecli import expr, templates
from kitecli.build import is_url
from kitecli.datums import PatternError, compile_pattern
from kitecli.errors import Diagnostic
from kitecli.graph import dependencies, find_cycle, overlaps
from kitecli.model import DERIVED_TIME_FIELDS, CelList, Pipeline, Stage
from kitecli.spec import Locator, PathT


def check(pipeline: Pipeline, data: dict[str, Any], loc: Locator) -> list[Diagnostic]:
    """Every semantic problem of the pipeline, in no particular order."""
    found: list[Diagnostic] = []
    seen_bases: set[str] = set()
    for stage in pipeline.stages.values():
        first_variant = stage.base not in seen_bases
        seen_bases.add(stage.base)
        if first_variant:
            found += _stage(pipeline, stage, data["stages"][stage.base], loc)
    found += _writers(pipeline, loc)
    found += _cycles(pipeline, loc)
    found += _environments(pipeline, loc)
    return found


def _stage(
    pipeline: Pipeline, stage: Stage, raw: dict[str, Any], loc: Locator
) -> Iterator[Diagnostic]:
    at: PathT = ("stages", stage.base)
    fields = yield from _patterns(stage, loc)
    if stage.inputs and stage.datums:
        yield loc.diag(
            (*at, "datums"),
            "`datums:` is for stages without inputs",
            key=True,
            hint="a stage with inputs gets its datums from their `each` patterns",
        )
    for name, gen in stage.datums.items():
        fields.add(name)
        if isinstance(gen, CelList):
            yield from _cel((*at, "datums", name), gen.expr, loc)
    if fields:
        fields.update(DERIVED_TIME_FIELDS)
    names = _template_names(pipeline, stage, fields)
    command = raw["command"]
    for index, item in enumerate(command if isinstance(command, list) else [command]):
        yield from _templates((*at, "command", index), item, names, loc)
    for key, value in raw.get("env", {}).items():
        yield from _templates((*at, "env", key), str(value), names, loc)
    path_names = {n for n in names if n.startswith(("matrix.", "params."))}
    for out, spec in raw.get("outputs", {}).items():
        path_at: PathT = (
            (*at, "outputs", out) if isinstance(spec, str) else (*at, "outputs", out, "path")
        )
        text = spec if isinstance(spec, str) else spec["path"]
        yield from _templates(path_at, text, path_names, loc, what="an output path")
        rules = spec.get("accept", {}).get("rules", []) if isinstance(spec, dict) else []
        for index, rule in enumerate(rules):
            yield from _cel((*at, "outputs", out, "accept", "rules", index), rule, loc)
    if stage.when:
        yield from _cel((*at, "when"), stage.when, loc)
    known = {*pipeline.params, *stage.matrix}
    for index, name in enumerate(raw.get("params", [])):
        if name not in known:
            yield loc.diag((*at, "params", index), f"unknown param '{name}'", _close(name, known))
    yield from _paths(pipeline, stage, raw, loc)


def _patterns(stage: Stage, loc: Locator) -> Generator[Diagnostic, None, set[str]]:
    """Check each `each` and `by`; return the datum fields the stage's inputs define."""
    fields: set[str] = set()
    for inp in stage.inputs:
        if inp.each is None:
            if inp.by:
                yield loc.diag(
                    ("stages", stage.base, "inputs", inp.name, "by"),
                    "`by` needs an `each` pattern to group",
                    key=True,
                )
            continue
        at: PathT = ("stages", stage.base, "inputs", inp.name, "each")
        try:
            pattern = compile_pattern(inp.each)
        except PatternError as exc:
            line, col = loc.at(at)
            yield Diagnostic(
                loc.file,
                line,
                col + exc.offset + _quote(loc, at),
                f"invalid `each` pattern: {exc}",
                "fields look like {date}; '*' matches part of a name, '**' whole folders",
            )
            continue
        known = set(pattern.fields) | (set(DERIVED_TIME_FIELDS) if pattern.fields else set())
        for index, name in enumerate(inp.by or ()):
            if name not in known:
                yield loc.diag(
                    ("stages", stage.base, "inputs", inp.name, "by", index),
                    f"`by` field '{name}' is not in the pattern {inp.each!r}",
                    _close(name, known),
                )
        fields.update(inp.by if inp.by else pattern.fields)
    return fields


def _quote(loc: Locator, at: PathT) -> int:
    """1 when the scalar at `at` is written in quotes (its text starts one column later)."""
    try:
        node: Any = loc.root
        for step in at:
            node = node[step]
        return 1 if getattr(node, "style", None) in ('"', "'") else 0
    except (KeyError, IndexError, TypeError):
        return 0


def _template_names(pipeline: Pipeline, stage: Stage, fields: set[str]) -> set[str]:
    names = {"env", "run.id"}
    names |= {f"inputs.{i.name}" for i in stage.inputs}
    names |= {f"outputs.{o.name}" for o in stage.outputs}
    names |= {f"datum.{f}" for f in fields}
    names |= {f"params.{p}" for p in (*pipeline.params, *stage.matrix)}
    names |= {f"matrix.{m}" for m in stage.matrix}
    return names


def _templates(
    at: PathT, text: str, names: set[str], loc: Locator, what: str = "the command"
) -> Iterator[Diagnostic]:
    for ref in templates.references(text):
        if ref.name is None:
            yield loc.diag(
                at,
                f"{ref.text} in {what} is not a name",
                "only names are substituted, like {{ inputs.raw }}; logic belongs in `when:`",
            )
        elif ref.name not in names:
            yield loc.diag(at, f"unknown name {ref.text} in {what}", _close(ref.name, names))


def _close(name: str, known: Any) -> str | None:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"known names: {', '.join(sorted(known))}" if known else None


def _cel(at: PathT, source: str, loc: Locator) -> Iterator[Diagnostic]:
    problem = expr.check(source)
    if problem:
        line, col = loc.at(at)
        shift = _quote(loc, at) + problem.col - 1 if problem.line == 1 else 0
        yield Diagnostic(
            loc.file,
            line + problem.line - 1,
            col + shift,
            f"invalid CEL expression: {problem.message}",
            "CEL looks like: params.min_temp_c < 0 && datum.station != 'X'",
        )


def _paths(
    pipeline: Pipeline, stage: Stage, raw: dict[str, Any], loc: Locator
) -> Iterator[Diagnostic]:
    at: PathT = ("stages", stage.base)
    places = [("inputs", i.name, i.path) for i in stage.inputs]
    places += [("outputs", o.name, o.path) for o in stage.outputs]
    for section, name, path in places:
        if path.startswith(("/", "../")) or path == ".." or is_url(path):
            yield loc.diag(
                (*at, section, name),
                f"{section[:-1]} path {path!r} leaves the data root",
                "paths are relative to the environment's data root, like raw/",
            )
    for out in stage.outputs:
        for inp in stage.inputs:
            if overlaps(inp.path, out.path):
                yield loc.diag(
                    (*at, "outputs", out.name),
                    f"output {out.path}/ overlaps this stage's own input {inp.path}/",
                    "write the output to a directory of its own",
                )
    for index, code in enumerate(stage.code):
        if not (pipeline.root / code).is_file():
            yield loc.diag(
                (*at, "code", index),
                f"code file not found: {code}",
                "paths in `code:` are relative to the folder of pipeline.yaml",
            )


def _writers(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    owners: list[tuple[str, Stage, str]] = []
    for stage in pipeline.stages.values():
        for out in stage.outputs:
            for path, other, other_out in owners:
                if other is stage or not overlaps(path, out.path):
                    continue
                at = ("stages", stage.base, "outputs", out.name)
                if path == out.path:
                    message = f"{out.path}/ is also written by stage '{other.name}' ({other_out})"
                else:
                    message = f"{out.path}/ overlaps {path}/, written by stage '{other.name}'"
                yield loc.diag(
                    at,
                    message,
                    "every output needs a directory of its own"
                    + (
                        "; use {{ matrix.NAME }} in the path of a matrix stage"
                        if stage.matrix
                        else ""
                    ),
                )
            owners.append((out.path, stage, out.name))


def _cycles(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    cycle = find_cycle(dependencies(pipeline.stages))
    if cycle:
        first = pipeline.stages[cycle[0]].base
        yield loc.diag(
            ("stages", first),
            f"dependency cycle: {' -> '.join(cycle)}",
            key=True,
            hint="a stage cannot read, even indirectly, what it writes",
        )


def _environments(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    envs = list(pipeline.environments.values())
    for index, env in enumerate(envs):
        at: PathT = ("environments", env.name)
        if env.reads is not None and env.reads not in pipeline.environments:
            yield loc.diag(
                (*at, "reads"),
                f"unknown environment '{env.reads}'",
                _close(env.reads, pipeline.environments),
            )
        elif env.reads == env.name:
            yield loc.diag((*at, "reads"), "an environment cannot read from itself")
        for other in envs[:index]:
            if _nested(env.data, other.data):
                yield loc.diag(
                    (*at, "data"),
                    f"data root {env.data} is the same as or nested with "
                    f"environment '{other.name}' ({other.data})",
                    "give every environment a data root of its own; sharing `cache:` is fine",
                )
        if env.volume and not is_url(env.data) and not _nested(env.data, env.volume.mount):
            yield loc.diag(
                (*at, "data"),
                f"data root {env.data} is not inside the volume's mount {env.volume.mount}",
                "with a volume, `data` is a path inside its mount",
            )


def _nested(a: str, b: str) -> bool:
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")
