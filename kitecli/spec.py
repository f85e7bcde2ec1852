"""Read and validate pipeline.yaml into a Pipeline; every error names file:line:col."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kitecli.errors import Diagnostic, PipelineError, ProjectError
from kitecli.model import Pipeline

PIPELINE_FILE = "pipeline.yaml"
PathT = tuple[str | int, ...]


class Locator:
    """Positions (1-based) of keys and values in a ruamel.yaml round-trip document."""

    def __init__(self, root: Any, file: str) -> None:
        self.root = root
        self.file = file

    def at(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Where the node at `path` is: its key for a collection, else its value."""
        line, col = 0, 0
        node = self.root
        for step in path:
            lc = getattr(node, "lc", None)
            try:
                child = node[step]
            except (KeyError, IndexError, TypeError):
                break
            if lc is not None:
                if isinstance(step, int):
                    line, col = lc.item(step)
                elif hasattr(child, "lc"):
                    line, col = lc.key(step)
                else:
                    line, col = lc.value(step)
            node = child
        return line + 1, col + 1

    def key(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Where the key that ends `path` is written."""
        parent = self.root
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                return self.at(path)
        lc = getattr(parent, "lc", None)
        if lc is None or isinstance(path[-1], int) or path[-1] not in parent:
            return self.at(path)
        line, col = lc.key(path[-1])
        return line + 1, col + 1

    def diag(
        self, path: Sequence[str | int], message: str, hint: str | None = None, *, key: bool = False
    ) -> Diagnostic:
        line, col = self.key(path) if key else self.at(path)
        return Diagnostic(self.file, line, col, message, hint)


def find_pipeline(path: Path | None) -> Path:
    """The pipeline file: the one given, or pipeline.yaml in this folder or a parent."""
    if path is not None:
        if path.is_dir():
            path = path / PIPELINE_FILE
        if not path.is_file():
            raise ProjectError(f"no such file: {path}", hint="run `kite init` to create one")
        return path.resolve()
    here = Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / PIPELINE_FILE
        if candidate.is_file():
            return candidate
    raise ProjectError(
        f"no {PIPELINE_FILE} in this folder or any parent",
        hint="run `kite init` to create one, or pass the file: `kite validate path/pipeline.yaml`",
    )


def read(path: Path) -> tuple[dict[str, Any], Locator]:
    """Parse the YAML file into plain data (dates as ISO strings) and a Locator."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    shown = display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read {shown}: {exc}") from exc
    try:
        root = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = "check the indentation and quoting on this line and the one before it"
        raise PipelineError([Diagnostic(shown, line, col, f"YAML: {problem}", hint)]) from exc
    except YAMLError as exc:
        raise PipelineError([Diagnostic(shown, 1, 1, f"YAML: {exc}")]) from exc
    if not isinstance(root, dict):
        got = "an empty file" if root is None else type(root).__name__
        diag = Diagnostic(
            shown, 1, 1, f"expected a mapping with `kite: 1` and `stages:`, got {got}"
        )
        raise PipelineError([diag])
    return _plain(root), Locator(root, shown)


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
        from kitecli.timefmt import iso

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

    validator = Draft202012Validator(schema())
    found: list[tuple[PathT, Diagnostic]] = []
    for error in validator.iter_errors(data):
        found.extend(_explain(error, loc))
    return found


def _explain(error: Any, loc: Locator) -> Iterator[tuple[PathT, Diagnostic]]:
    from jsonschema.exceptions import best_match

    path: PathT = tuple(error.absolute_path)
    where = _where(path)
    kind = error.validator
    if kind in ("anyOf", "oneOf") and error.context:
        yield from _explain(best_match(error.context), loc)
    elif kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for extra in sorted(set(error.instance) - set(allowed)):
            close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(allowed)}"
            message = f"unknown key '{extra}'" + (f" in {where}" if where else "")
            yield (*path, extra), loc.diag((*path, extra), message, hint, key=True)
    elif kind == "required":
        missing = error.message.split("'")[1]
        message = f"{where or 'the file'} is missing '{missing}'"
        yield path, loc.diag(path, message, _required_hint(missing), key=True)
    elif kind == "propertyNames":
        name = error.instance
        message = f"'{name}' is not a valid name in {where}"
        hint = "use letters, digits and '_' (and '-' for stages, environments, inputs, outputs)"
        yield (*path, name), loc.diag((*path, name), message, hint, key=True)
    else:
        yield path, loc.diag(path, f"{where}: {_message(error)}", _hint(error))


def _where(path: PathT) -> str:
    return ".".join(str(p) for p in path)


def _message(error: Any) -> str:
    kind, value = error.validator, error.validator_value
    if kind == "type":
        wanted = " or ".join(value) if isinstance(value, list) else value
        return f"expected {wanted}, got {_json_type(error.instance)}"
    if kind == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, value))}"
    if kind == "const":
        return f"must be {value!r}"
    if kind in ("minProperties", "minItems", "minLength"):
        return "must not be empty"
    if kind == "pattern":
        return f"{error.instance!r} does not have the required form"
    return str(error.message)


def _hint(error: Any) -> str | None:
    kind, value = error.validator, error.validator_value
    if kind == "const" and error.path and error.path[-1] == "kite":
        return "start the file with `kite: 1`"
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        return _TYPE_HINTS.get(wanted[0])
    if kind == "pattern" and error.path and error.path[-1] == "name":
        return "use lower-case letters, digits and '-', e.g. weather-daily"
    description = error.schema.get("description")
    return str(description) if description else None


_TYPE_HINTS = {
    "integer": "write a whole number, like 4",
    "number": "write a number, like 2 or 0.5",
    "boolean": "write true or false",
    "string": "write text; quote it if YAML reads it as something else",
    "array": "write a list, like [a, b]",
    "object": "write a mapping: key: value lines indented under this key",
}


def _required_hint(missing: str) -> str | None:
    return {
        "kite": "add `kite: 1` at the top of the file",
        "command": "add `command: [python, steps/x.py, '{{ outputs.out }}']`",
        "outputs": "add `outputs: {out: out/}`",
        "data": "add `data: ./data` (or an s3:// or gs:// URL)",
        "stages": "add a `stages:` mapping; `kite init` writes an example",
    }.get(missing)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def load(path: Path | None = None, *, user: str | None = None) -> Pipeline:
    """Read, validate and build the pipeline; raises PipelineError listing every problem."""
    from kitecli.build import build
    from kitecli.checks import check

    file = find_pipeline(path)
    data, loc = read(file)
    found = schema_errors(data, loc)
    diagnostics = [d for _, d in found]
    broken = {p[:2] for p, _ in found if len(p) >= 2 and p[0] in ("stages", "environments")}
    valid = _without(data, broken) if all(len(p) >= 2 for p, _ in found) else None
    if valid is not None:
        pipeline, problems = build(valid, file, loc, user=user)
        diagnostics += problems
        if pipeline is not None:
            diagnostics += check(pipeline, valid, loc)
            if not diagnostics:
                return pipeline
    raise PipelineError(_dedupe(diagnostics))


def _without(data: dict[str, Any], broken: set[PathT]) -> dict[str, Any]:
    """`data` less the stages and environments that have schema errors."""
    kept = dict(data)
    for section in ("stages", "environments"):
        if isinstance(data.get(section), dict):
            kept[section] = {k: v for k, v in data[section].items() if (section, k) not in broken}
    return kept


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: dict[tuple[int, int, str], Diagnostic] = {}
    for d in diagnostics:
        seen.setdefault((d.line, d.col, d.message), d)
    return list(seen.values())
