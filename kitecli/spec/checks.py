"""Semantic checks of a built pipeline: each finding a Diagnostic at the user's line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Generator, Iterator
from typing import Any

from kitecli.errors import Diagnostic
from kitecli.spec import expr, repeat, schedule, templates
from kitecli.spec.build import is_url
from kitecli.spec.graph import PathIndex, dependencies, find_cycle, overlaps
from kitecli.spec.identity import conflicts
from kitecli.spec.inputs import check_excludes, check_ready
from kitecli.spec.model import DERIVED_TIME_FIELDS, CelList, Pipeline, Stage
from kitecli.spec.patterns import PatternError, compile_pattern
from kitecli.spec.yamlpos import Locator, PathT

# A URL, after normalize() has folded its '//' into '/': s3:/bucket/x
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


def check(
    pipeline: Pipeline, data: dict[str, Any], loc: Locator, *, parse_cel: bool = True
) -> list[Diagnostic]:
    """Every semantic problem of the pipeline, in no particular order.

    `parse_cel=False` skips parsing the CEL expressions (known to parse: see validated.py).
    """
    found: list[Diagnostic] = []
    seen_bases: set[str] = set()
    for stage in pipeline.stages.values():
        first_variant = stage.base not in seen_bases
        seen_bases.add(stage.base)
        if first_variant:
            found += _stage(pipeline, stage, data["stages"][stage.base], loc, parse_cel)
            found += _secret_env(stage, data["stages"][stage.base], loc)
    found += _writers(pipeline, loc)
    found += _kite_places(pipeline, loc)
    found += _cycles(pipeline, loc)
    found += _environments(pipeline, loc)
    found += schedule.problems(pipeline, loc)
    found += [loc.diag(path, message, hint) for path, message, hint in conflicts(pipeline)]
    return found


def _stage(
    pipeline: Pipeline, stage: Stage, raw: dict[str, Any], loc: Locator, parse_cel: bool
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
        if isinstance(gen, CelList) and parse_cel:
            yield from _cel((*at, "datums", name), gen.expr, loc)
    if fields:
        fields.update(DERIVED_TIME_FIELDS)
    names = _template_names(pipeline, stage, fields)
    command = raw["command"]
    for index, item in enumerate(command if isinstance(command, list) else [command]):
        yield from _templates((*at, "command", index), item, names, loc)
    for key, value in raw.get("env", {}).items():
        yield from _templates((*at, "env", key), str(value), names, loc, what=f"env.{key}")
    for out, spec in raw.get("outputs", {}).items():
        yield from _output((*at, "outputs", out), spec, names, loc, parse_cel)
    if parse_cel:
        yield from _expressions(stage, raw, loc)
    known = {*pipeline.params, *stage.matrix}
    for index, name in enumerate(raw.get("params", [])):
        if name not in known:
            yield loc.diag((*at, "params", index), f"unknown param '{name}'", _close(name, known))
    yield from _paths(pipeline, stage, raw, loc)
    yield from check_excludes(stage, raw, loc)
    yield from check_ready(stage, raw, fields, loc)
    yield from repeat.check(stage, raw, loc)


def _expressions(stage: Stage, raw: dict[str, Any], loc: Locator) -> Iterator[Diagnostic]:
    """The stage's CEL conditions that do not parse: `when`, `retries.on`, `repeat.until`,
    each input's `ready.when`."""
    at: PathT = ("stages", stage.base)
    if stage.when:
        yield from _cel((*at, "when"), stage.when, loc)
    if stage.retries.on:
        where = (*at, "retries", "on") if "retries" in raw else ("defaults", "retries", "on")
        yield from _cel(where, stage.retries.on, loc)
    if stage.repeat is not None:
        yield from _cel((*at, "repeat", "until"), stage.repeat.until, loc)
    for inp in stage.inputs:
        if inp.ready is not None and inp.ready.when:
            yield from _cel((*at, "inputs", inp.name, "ready", "when"), inp.ready.when, loc)


def _output(
    at: PathT, spec: str | dict[str, Any], names: set[str], loc: Locator, parse_cel: bool
) -> Iterator[Diagnostic]:
    """One output: its path may use params and matrix values only; its gate's rules are CEL
    and its accept command a template like the stage's."""
    path_names = {n for n in names if n.startswith(("matrix.", "params."))}
    text = spec if isinstance(spec, str) else spec["path"]
    path_at: PathT = at if isinstance(spec, str) else (*at, "path")
    yield from _templates(path_at, text, path_names, loc, what="an output path")
    gate = spec.get("accept", {}) if isinstance(spec, dict) else {}
    for index, rule in enumerate(gate.get("rules", []) if parse_cel else []):
        yield from _cel((*at, "accept", "rules", index), rule, loc)
    check = gate.get("command", [])
    check_at: PathT = (*at, "accept", "command")
    for index, item in enumerate(check if isinstance(check, list) else [check]):
        where = (*check_at, index) if isinstance(check, list) else check_at
        yield from _templates(where, item, names, loc, what="the accept command")


def _patterns(stage: Stage, loc: Locator) -> Generator[Diagnostic, None, set[str]]:
    """Check each `each` and `by`; return the datum fields the stage's inputs define."""
    fields: set[str] = set()
    for inp in stage.inputs:
        if inp.each is None:
            if inp.by:
                yield loc.diag(
                    ("stages", stage.base, "inputs", inp.name, "by"),
                    "`by` needs an `each` pattern to group",
                    'add a pattern like `each: "{date}/{station}.csv"`, or remove `by`',
                    key=True,
                )
            continue
        at: PathT = ("stages", stage.base, "inputs", inp.name, "each")
        try:
            pattern = compile_pattern(inp.each)
        except PatternError as exc:
            line, col = loc.inside(at, exc.offset)
            yield Diagnostic(
                loc.file,
                line,
                col,
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


def _template_names(pipeline: Pipeline, stage: Stage, fields: set[str]) -> set[str]:
    names = {"env", "run.id"}
    names |= {f"inputs.{i.name}" for i in stage.inputs}
    names |= {f"inputs.{i.name}.files" for i in stage.inputs if i.keyed}
    names |= {f"inputs.{i.name}.file" for i in stage.inputs if i.per_file}
    names |= {f"outputs.{o.name}" for o in stage.outputs}
    names |= {f"datum.{f}" for f in fields}
    names |= {f"params.{p}" for p in (*pipeline.params, *stage.matrix)}
    names |= {f"matrix.{m}" for m in stage.matrix}
    if stage.repeat is not None:
        names.add(repeat.PREVIOUS)
    return names


def _templates(
    at: PathT, text: str, names: set[str], loc: Locator, what: str = "the command"
) -> Iterator[Diagnostic]:
    for ref in templates.references(text):
        line, col = loc.inside(at, ref.start)
        hint: str | None
        if ref.name is None:
            message = f"{ref.text} in {what} is not a name"
            hint = "only names are substituted, like {{ inputs.raw }}; logic belongs in `when:`"
        elif ref.name.endswith(".files") and ref.name in names and not _whole(text, what):
            message = f"{ref.text} in {what} must be an argv item of its own"
            hint = "it expands into one argument per file; elsewhere use KITE_FILES_<INPUT>"
        elif ref.name not in names:
            message = f"unknown name {ref.text} in {what}"
            hint = _close(ref.name, names)
            if ref.name.endswith((".file", ".files")) and ref.name.split(".")[1] in _inputs(names):
                hint = _file_hint(ref.name)
            if ref.name.startswith("datum.") and not any(n.startswith("datum.") for n in names):
                hint = "this stage has no datum fields: an `each` pattern or `datums:` defines them"
            if ref.name == repeat.PREVIOUS:
                hint = "only a stage with `repeat:` reads what its iteration before wrote"
        else:
            continue
        yield Diagnostic(loc.file, line, col, message, hint)


def _whole(text: str, what: str) -> bool:
    return what in ("the command", "the accept command") and templates.file_list(text) is not None


def _inputs(names: set[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("inputs.")}


def _file_hint(name: str) -> str:
    """Why `inputs.x.file(s)` is not there for this input."""
    folder = name.rsplit(".", 1)[0]
    if name.endswith(".files"):
        return f"input '{name.split('.')[1]}' has no `each:`: it is one folder, {{{{ {folder} }}}}"
    return (
        f"a datum of input '{name.split('.')[1]}' may hold several files (no `each:`, a `*` "
        f"in it, or `by:`): use {{{{ {folder}.files }}}} or the folder {{{{ {folder} }}}}"
    )


def _close(name: str, known: Any) -> str | None:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"known names: {', '.join(sorted(known))}" if known else None


def _cel(at: PathT, source: str, loc: Locator) -> Iterator[Diagnostic]:
    problem = expr.check(source)
    if problem:
        lines = source.split("\n")
        offset = sum(len(text) + 1 for text in lines[: problem.line - 1]) + problem.col - 1
        line, col = loc.inside(at, offset)
        message = problem.message.removeprefix("Syntax error: ")
        if message.startswith("mismatched input '<EOF>'"):
            message = "the expression ends too early"
        message = message.replace("'<EOF>'", "the end")
        yield Diagnostic(
            loc.file,
            line,
            col,
            f"invalid CEL expression: {message}",
            "CEL looks like: params.min_temp_c < 0 && datum.station != 'X'",
        )


def _paths(
    pipeline: Pipeline, stage: Stage, raw: dict[str, Any], loc: Locator
) -> Iterator[Diagnostic]:
    at: PathT = ("stages", stage.base)
    places = [("inputs", i.name, i.path) for i in stage.inputs]
    places += [("outputs", o.name, o.path) for o in stage.outputs]
    for section, name, path in places:
        if path.startswith(("/", "../")) or path == ".." or _SCHEME.match(path):
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
    for out in stage.outputs:
        schema = out.accept.json_schema if out.accept else None
        if schema and not (pipeline.root / schema).is_file():
            yield loc.diag(
                (*at, "outputs", out.name, "accept", "json_schema"),
                f"schema file not found: {schema}",
                "paths in `json_schema:` are relative to the folder of pipeline.yaml",
            )
    for index, code in enumerate(stage.code):
        if not (pipeline.root / code).is_file():
            yield loc.diag(
                (*at, "code", index),
                f"code file not found: {code}",
                "paths in `code:` are relative to the folder of pipeline.yaml",
            )


def _writers(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    """Outputs that are, or hold, or sit inside an earlier output: one finding for each."""
    owners: PathIndex[tuple[str, Stage, str]] = PathIndex()
    for stage in pipeline.stages.values():
        for out in stage.outputs:
            clashes = owners.overlapping(out.path)
            owners.add(out.path, (out.path, stage, out.name))
            if not clashes:
                continue
            path, other, other_out = min(clashes, key=lambda o: o[0] != out.path)
            who = f"stage '{other.name}'" if other is not stage else "this stage"
            if path == out.path:
                message = f"{out.path}/ is also written by {who} ({other_out})"
            else:
                message = f"{out.path}/ overlaps {path}/, written by {who} ({other_out})"
            hint = "every output needs a directory of its own"
            if stage.matrix and other.base == stage.base:
                hint += "; use {{ matrix.NAME }} in the path of a matrix stage"
            yield loc.diag(("stages", stage.base, "outputs", out.name), message, hint)


def _kite_places(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    """Outputs that would lie in (or hold) what kite keeps its own state in: `.kite/`,
    `kite.lock`, or any environment's metadata repo or cache. Writing there would
    overwrite refs or blobs with a command's files."""
    root = str(pipeline.root.resolve())
    places: list[tuple[str, str]] = []
    for env in pipeline.environments.values():
        places.append((env.metadata, f"the metadata repo of environment '{env.name}'"))
        places.append((env.cache, f"the cache of environment '{env.name}'"))
    places += [(f"{root}/.kite", "kite's folder .kite/"), (f"{root}/kite.lock", "kite.lock")]
    seen: set[tuple[str, str]] = set()
    for stage in pipeline.stages.values():
        for out in stage.outputs:
            for env in pipeline.environments.values():
                where = env.data.rstrip("/")
                where += "" if out.path in ("", ".") else f"/{out.path}"
                hit = next(((p, w) for p, w in places if _nested(where, p)), None)
                if hit is None or (stage.base, out.name) in seen:
                    continue
                seen.add((stage.base, out.name))
                how = "lies in" if _nested(where, hit[0]) and len(where) >= len(hit[0]) else "holds"
                yield loc.diag(
                    ("stages", stage.base, "outputs", out.name),
                    f"output {out.path}/ {how} {hit[1]}",
                    "write outputs to a folder of their own under the data root; kite keeps "
                    "its state in .kite/, kite.lock, the metadata repo and the cache",
                )


def _cycles(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    cycle = find_cycle(dependencies(pipeline.stages))
    if cycle:
        flow = cycle[::-1]  # find_cycle follows "reads from"; show the data's direction
        yield loc.diag(
            ("stages", pipeline.stages[flow[0]].base),
            f"dependency cycle: {' -> '.join(flow)}",
            key=True,
            hint="each stage here reads what the one before it writes: break the loop; "
            "for a stage that refines its own output, use `repeat:` (docs/repeat.md)",
        )


def _secret_env(stage: Stage, raw: dict[str, Any], loc: Locator) -> Iterator[Diagnostic]:
    """A variable from a Secret must not shadow kite's or the stage's own."""
    base: PathT = ("stages", stage.base) if "secret_env" in raw else ("defaults",)
    for name in stage.pod.secret_env:
        if name.startswith("KITE_") or name in stage.env:
            yield loc.diag(
                (*base, "secret_env", name),
                f"secret_env {name} would hide "
                + ("kite's own variable" if name.startswith("KITE_") else "the stage's `env`"),
                "give the variable from the Secret another name",
                key=True,
            )


def _environments(pipeline: Pipeline, loc: Locator) -> Iterator[Diagnostic]:
    envs = list(pipeline.environments.values())
    # An environment left out for a schema error still exists for `reads:`.
    declared = loc.root.get("environments")
    names = {*pipeline.environments, *(declared if isinstance(declared, dict) else ())}
    for index, env in enumerate(envs):
        at: PathT = ("environments", env.name)
        if env.reads is not None and env.reads not in names:
            yield loc.diag(
                (*at, "reads"), f"unknown environment '{env.reads}'", _close(env.reads, names)
            )
        elif env.reads == env.name:
            yield loc.diag((*at, "reads"), "an environment cannot read from itself")
        clash = next((o for o in envs[:index] if _nested(env.data, o.data)), None)
        if clash is not None:
            how = "is also" if env.data == clash.data else "overlaps"
            yield loc.diag(
                (*at, "data"),
                f"data root {_shown(pipeline, env.data)} {how} the data root of environment "
                f"'{clash.name}' ({_shown(pipeline, clash.data)})",
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


def _shown(pipeline: Pipeline, location: str) -> str:
    """A data root as the user wrote it: relative to the pipeline's folder when inside it."""
    if is_url(location):
        return location
    root = str(pipeline.root.resolve())
    if location == root:
        return "./"
    return "./" + location.removeprefix(root + "/") if location.startswith(root + "/") else location
