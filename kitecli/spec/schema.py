"""JSON Schema violations of pipeline data, explained at the user's line with a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from kitecli import __version__
from kitecli.errors import Diagnostic
from kitecli.spec.yamlpos import Locator, PathT

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}

_TYPE_HINTS = {
    "integer": "write a whole number, like 4",
    "number": "write a number, like 2 or 0.5",
    "boolean": "write true or false",
    "string": "write text; quote it if YAML reads it as something else",
    "array": "write a list, like [a, b]",
    "object": "write a mapping: key: value lines indented under this key",
}

_REQUIRED_HINTS = {
    "kite": "add `kite: 1` at the top of the file",
    "command": "add `command: [python, steps/x.py, '{{ outputs.out }}']`",
    "outputs": "add `outputs: {out: out/}`",
    "data": "add `data: ./data` (or an s3:// or gs:// URL)",
    "stages": "add a `stages:` mapping; `kite init` writes an example",
    "path": "add `path: some/dir/`, relative to the data root",
    "from": "add `from: 2024-01-01`",
}


def explain(error: Any, loc: Locator) -> Iterator[tuple[PathT, Diagnostic]]:
    """One jsonschema error as (path of the offending node, diagnostic) pairs."""
    path: PathT = tuple(error.absolute_path)
    where = _where(path)
    kind = error.validator
    if kind in ("anyOf", "oneOf") and error.context:
        yield from _alternatives(error, loc)
    elif kind == "additionalProperties":
        for extra in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
            yield (*path, extra), _unknown_key(error.schema, path, extra, loc)
    elif kind == "required":
        yield path, _missing(error, path, loc)
    elif "propertyNames" in error.relative_schema_path:
        name = error.instance
        message = f"'{name}' is not a valid name in {where}"
        hint = "use letters, digits and '_' (and '-' for stages, environments, inputs, outputs)"
        yield (*path, name), loc.diag((*path, name), message, hint, key=True)
    else:
        yield path, loc.diag(path, _message(error, where), _hint(error))


def _alternatives(error: Any, loc: Locator) -> Iterator[tuple[PathT, Diagnostic]]:
    """anyOf/oneOf: explain the branch written for this kind of value, or name the kinds."""
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    for errors in branches.values():
        if not any(e.validator == "type" and not e.relative_path for e in errors):
            for sub in errors:
                yield from explain(sub, loc)
            return
    path: PathT = tuple(error.absolute_path)
    kinds = [e.validator_value for errs in branches.values() for e in errs if e.validator == "type"]
    wanted = " or ".join(dict.fromkeys(_type_name(k) for k in kinds))
    message = f"{_where(path)}: expected {wanted}, got {kind_of(error.instance)}"
    described = (e.schema.get("description") for e in error.context)
    hint = _quote_hint(error.instance) or next((d for d in described if d), None)
    yield path, loc.diag(path, message, hint)


def _unknown_key(schema: dict[str, Any], path: PathT, extra: str, loc: Locator) -> Diagnostic:
    allowed = sorted(schema.get("properties", {}))
    close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(allowed)}"
    message = f"unknown key '{extra}'" + (f" in {_where(path)}" if path else "")
    return loc.diag((*path, extra), message, hint, key=True)


def _missing(error: Any, path: PathT, loc: Locator) -> Diagnostic:
    """A missing key; when it is misspelled, the same diagnostic as for the unknown key."""
    missing = error.message.split("'")[1]
    known = error.schema.get("properties", {})
    if error.schema.get("additionalProperties") is False and isinstance(error.instance, dict):
        unknown = [k for k in error.instance if k not in known]
        close = difflib.get_close_matches(missing, unknown, n=1, cutoff=0.6)
        if close:
            return _unknown_key(error.schema, path, close[0], loc)
    message = f"{_where(path) or 'the file'} is missing '{missing}'"
    return loc.diag(path, message, _REQUIRED_HINTS.get(missing), key=True)


def _where(path: PathT) -> str:
    return ".".join(str(p) for p in path)


def _message(error: Any, where: str) -> str:
    kind, value = error.validator, error.validator_value
    if kind == "const" and error.path and error.path[-1] == "kite":
        return f"unsupported format version: kite: {error.instance!r}"
    if kind == "type":
        wanted = " or ".join(_type_name(v) for v in (value if isinstance(value, list) else [value]))
        text = f"expected {wanted}, got {kind_of(error.instance)}"
    elif kind == "enum":
        text = f"{error.instance!r} is not one of {', '.join(map(str, value))}"
    elif kind == "const":
        text = f"must be {value!r}"
    elif kind in ("minProperties", "minItems", "minLength"):
        text = "must not be empty"
    elif kind == "pattern":
        text = f"{error.instance!r} does not have the required form"
    else:
        text = str(error.message)
    return f"{where}: {text}" if where else text


def _hint(error: Any) -> str | None:
    kind, value = error.validator, error.validator_value
    if kind == "const" and error.path and error.path[-1] == "kite":
        return f"this is kite {__version__}; it reads files that start with `kite: 1`"
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        return _quote_hint(error.instance) or _TYPE_HINTS.get(wanted[0])
    if kind == "pattern" and error.path and error.path[-1] == "name":
        return "use lower-case letters, digits and '-', e.g. weather-daily"
    if kind == "enum":
        close = difflib.get_close_matches(str(error.instance), map(str, value), n=1)
        return f"did you mean '{close[0]}'?" if close else None
    description = error.schema.get("description")
    return str(description) if description else None


def _quote_hint(value: object) -> str | None:
    """YAML reads an unquoted `{{ name }}` as a mapping {name: null}: say so."""
    if isinstance(value, dict) and list(value.values()) == [None]:
        return 'YAML reads an unquoted {{ }} as a mapping: quote it, like "{{ inputs.raw }}"'
    return None


def _type_name(kind: str) -> str:
    return _TYPE_NAMES.get(kind, kind)


def kind_of(value: object) -> str:
    """The kind of a YAML value, as a user would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
