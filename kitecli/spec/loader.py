"""Read and validate pipeline.yaml into a Pipeline; every error names file:line:col."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kitecli.errors import Diagnostic, PipelineError, ProjectError, UsageError
from kitecli.spec.model import Environment, Pipeline
from kitecli.spec.yamlpos import Locator, PathT

PIPELINE_FILE = "pipeline.yaml"


def find_pipeline(path: Path | None) -> Path:
    """The pipeline file: the one given, or pipeline.yaml in this folder or a parent."""
    if path is not None:
        if path.is_dir():
            path = path / PIPELINE_FILE
        if not path.is_file():
            raise ProjectError(f"no such file: {path}", hint="run `kite init` to create one")
        return path.resolve()
    here = Path.cwd()
    for folder in searched(here):
        candidate = folder / PIPELINE_FILE
        if candidate.is_file():
            return candidate
    raise ProjectError(
        f"no {PIPELINE_FILE} in this folder or any parent",
        hint="run `kite init` to create one, or pass the file: `kite validate path/pipeline.yaml`",
    )


CEILINGS = "KITE_CEILING_DIRECTORIES"


def searched(here: Path) -> list[Path]:
    """`here` and its parents, up to (not into) the first folder `KITE_CEILING_DIRECTORIES`
    names (absolute paths separated by `:`, as git's GIT_CEILING_DIRECTORIES)."""
    ceilings = {Path(p) for p in os.environ.get(CEILINGS, "").split(":") if os.path.isabs(p)}
    found = [here]
    for parent in here.parents:
        if parent in ceilings:
            break
        found.append(parent)
    return found


def read(path: Path) -> tuple[dict[str, Any], Locator]:
    """Parse the YAML file into plain data (dates as ISO strings) and a Locator."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    shown = display_name(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise PipelineError([Diagnostic(shown, 1, 1, f"larger than {MAX_BYTES >> 20} MiB")])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read {shown}: {exc}") from exc
    try:
        root = _yaml().load(text)
    except MarkedYAMLError as exc:
        raise PipelineError([_yaml_problem(shown, exc)]) from exc
    except YAMLError as exc:
        raise PipelineError([Diagnostic(shown, 1, 1, f"YAML: {exc}")]) from exc
    _bounded(root, shown)
    if not isinstance(root, dict):
        from kitecli.spec.schema import kind_of

        got = "an empty file" if root is None else kind_of(_plain(root))
        diag = Diagnostic(
            shown, 1, 1, f"expected a mapping with `kite: 1` and `stages:`, got {got}"
        )
        raise PipelineError([diag])
    return _plain(root), Locator(root, shown, text.splitlines())


MAX_BYTES = 16 << 20  # a pipeline file larger than this is refused unread
MAX_VALUES = 1_000_000  # values a pipeline may hold once YAML aliases are expanded


def _bounded(root: Any, shown: str) -> None:
    """Refuse a document whose aliases expand it beyond MAX_VALUES values (a few levels of
    anchors referring to anchors multiply), or that an alias makes infinite, at the node
    where it happens; counted once per shared node, so this takes linear time."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_:
            raise _too_big(shown, node, "an alias refers to a node that contains it")
        open_.add(id(node))
        items = list(node.values()) if isinstance(node, dict) else node
        total = 1 + len(node) + sum(size(item) for item in items)
        open_.discard(id(node))
        if total > MAX_VALUES:
            raise _too_big(shown, node, f"its aliases expand it to over {MAX_VALUES:,} values")
        sizes[id(node)] = total
        return total

    size(root)


def _too_big(shown: str, node: Any, why: str) -> PipelineError:
    lc = getattr(node, "lc", None)
    line, col = (lc.line + 1, lc.col + 1) if lc is not None and lc.line is not None else (1, 1)
    hint = "write the values out, or use fewer levels of anchors (&) referring to anchors"
    return PipelineError([Diagnostic(shown, line, col, f"YAML: {why}", hint)])


def _yaml_problem(shown: str, exc: Any) -> Diagnostic:
    """A YAML syntax error at its position, with a hint for the usual causes."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = str(exc.problem or exc.context or "invalid YAML")
    hint = "check the indentation and quoting on this line and the one before it"
    if problem.startswith("found duplicate key"):
        problem = problem.split(" with value")[0]
        hint = "a key may appear only once in a mapping: delete or rename one of them"
    elif "'\\t'" in problem:
        hint = "YAML does not allow tabs for indentation: indent with spaces"
    elif problem.startswith(("expected ',' or '}'", "expected ',' or ']'")):
        closer = problem[len("expected ',' or '")]
        hint = f"a {'{' if closer == '}' else '['} above is not closed with {closer}, or a"
        hint += " value in it needs quotes"
    return Diagnostic(shown, line, col, f"YAML: {problem}", hint)


def _yaml() -> Any:
    """A round-trip loader that keeps dates as the strings written (kite parses them)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import RoundTripConstructor

    class Constructor(RoundTripConstructor):
        pass

    Constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str
    )
    loader = YAML(typ="rt", pure=True)
    loader.Constructor = Constructor
    return loader


def display_name(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _plain(node: Any) -> Any:
    """ruamel's round-trip nodes → JSON-like values; dates become ISO strings."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, dt.datetime | dt.date):
        from kitecli.spec.timefmt import iso

        return iso(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool | int | float) or node is None:
        return node
    return str(node)


@cache
def schema() -> dict[str, Any]:
    """The pipeline JSON Schema shipped inside the package."""
    text = resources.files("kitecli").joinpath("schemas/pipeline.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_errors(data: dict[str, Any], loc: Locator) -> list[tuple[PathT, Diagnostic]]:
    """Every schema violation, as (path of the offending node, diagnostic)."""
    from jsonschema import Draft202012Validator

    from kitecli.spec.schema import explain

    validator = Draft202012Validator(schema())
    found: list[tuple[PathT, Diagnostic]] = []
    for error in validator.iter_errors(data):
        found.extend(explain(error, loc))
    return found


def load(path: Path | None = None, *, user: str | None = None) -> Pipeline:
    """Read, validate and build the pipeline; raises PipelineError listing every problem."""
    from kitecli.spec import validated
    from kitecli.spec.build import build
    from kitecli.spec.checks import check
    from kitecli.spec.inputs import nested_inputs

    file = find_pipeline(path)
    state = file.parent / ".kite"
    if state.exists() and not state.is_dir():
        raise ProjectError(
            f"{display_name(state)} is a file: kite keeps its working state in that folder",
            hint="move the file away (kite makes the folder again)",
        )
    data, loc = read(file)
    key = validated.fingerprint(data)
    known = validated.seen(file.parent, key)  # then the schema and CEL checks passed before
    found = [] if known else schema_errors(data, loc)
    diagnostics = [d for _, d in found]
    checkable = _checkable(data, [p for p, _ in found])
    if checkable is not None:
        pipeline, problems = build(checkable, file, loc, user=user)
        diagnostics += problems + check(pipeline, checkable, loc, parse_cel=not known)
        if not diagnostics:
            if not known:
                validated.remember(file.parent, key)
            warnings = (*pipeline.warnings, *nested_inputs(pipeline, loc))
            return dataclasses.replace(pipeline, warnings=warnings)
    raise PipelineError(_dedupe(diagnostics))


# A schema error in one of these keys leaves its whole stage (environment) out of the
# semantic checks, since the rest of it refers to them (`{{ inputs.x }}`, datum fields);
# an error in any other key leaves the stage in, less that key.
_STAGE_CORE = frozenset({"command", "inputs", "outputs", "datums", "matrix", "params"})
_ENVIRONMENT_CORE = frozenset({"data"})


def _checkable(data: dict[str, Any], broken: list[PathT]) -> dict[str, Any] | None:
    """`data` less the parts with schema errors, for the semantic checks of the rest.

    None when nothing can be checked: a `kite:` version this kite does not read, or
    `params:` that is not a mapping (every `{{ params.x }}` would be reported).
    """
    kept = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for path in broken:
        head = path[0] if path else None
        if head == "kite" or path == ("params",):
            return None
        if head in ("stages", "environments", "defaults", "name", "description") and (
            len(path) == 1 or not isinstance(kept.get(head), dict)
        ):
            kept.pop(head, None)
        elif head == "defaults":
            kept[head].pop(path[1], None)
        elif head in ("stages", "environments"):
            core = _STAGE_CORE if head == "stages" else _ENVIRONMENT_CORE
            _prune(kept[head], path[1:], core)
    return kept


def _prune(section: dict[str, Any], path: PathT, core: frozenset[str]) -> None:
    """Drop the entry at path[0] of `section`, or only its key path[1] when that can go."""
    name = str(path[0])
    entry = section.get(name)
    if len(path) == 1 or not isinstance(entry, dict) or path[1] in core:
        section.pop(name, None)
    else:
        section[name] = {k: v for k, v in entry.items() if k != path[1]}


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: dict[tuple[int, int, str], Diagnostic] = {}
    for d in diagnostics:
        seen.setdefault((d.line, d.col, d.message), d)
    return list(seen.values())


def choose_environment(
    pipeline: Pipeline, name: str | None, environ: Mapping[str, str] = os.environ
) -> Environment:
    """`--env`, else KITE_ENV, else the first environment the pipeline declares."""
    chosen = name or environ.get("KITE_ENV") or next(iter(pipeline.environments))
    if chosen not in pipeline.environments:
        source = "--env" if name else "KITE_ENV"
        raise UsageError(
            f"no environment named {chosen!r} ({source})",
            hint=f"environments in {pipeline.path.name}: {', '.join(pipeline.environments)}",
        )
    return pipeline.environments[chosen]
