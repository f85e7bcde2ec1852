"""`--param NAME=VALUE` for one run, typed by the param's value in pipeline.yaml.

A param declared as an int takes an int, a float a number, a bool `true` or `false`, a
string any text, a list or a mapping JSON of that shape; a param declared `null` takes JSON
when the text is JSON, else the text. Pure: strings in, typed values out, or a UsageError.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from kitecli.errors import UsageError
from kitecli.scan.hashing import canonical, digest_bytes
from kitecli.spec.model import Pipeline


def parse(items: Sequence[str] | Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """`["region=eu", "limit=5"]` → `{"region": "eu", "limit": 5}`; the last of a name wins.

    A mapping is values already typed (a saved plan's): only their names are checked.
    """
    if isinstance(items, Mapping):
        for name in items:
            if name not in declared:
                raise UsageError(f"no param named {name!r}", hint=_known(name, declared))
        return dict(items)
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param {item!r} is not NAME=VALUE", hint="e.g. --param region=eu")
        if name not in declared:
            raise UsageError(
                f"--param {name}: no param named {name!r}", hint=_known(name, declared)
            )
        values[name] = typed(name, text, declared[name])
    return values


def typed(name: str, text: str, like: Any) -> Any:
    """`text` as a value of the type of `like` (the param's value in pipeline.yaml)."""
    kind = _kind(like)
    try:
        value = _convert(text, like)
    except ValueError:
        value = None
    if value is None and like is not None:
        raise UsageError(
            f"--param {name}={text}: {name} is {kind} in pipeline.yaml, and {text!r} is not",
            hint=_HINTS[kind],
        )
    return value


def _convert(text: str, like: Any) -> Any:
    """The converted value, or None (or ValueError) when `text` does not fit."""
    if isinstance(like, bool):
        return {"true": True, "false": False}.get(text.strip().lower())
    if isinstance(like, int):
        return int(text.strip())
    if isinstance(like, float):
        number = float(text.strip())
        return number if math.isfinite(number) else None
    if isinstance(like, str):
        return text
    if isinstance(like, list | dict):
        value = json.loads(text)
        return value if isinstance(value, type(like)) else None
    try:  # declared null: JSON if it is JSON, else the text
        return json.loads(text)
    except ValueError:
        return text


def _kind(like: Any) -> str:
    if isinstance(like, bool):
        return "a bool"
    if isinstance(like, int):
        return "an int"
    if isinstance(like, float):
        return "a number"
    if isinstance(like, list):
        return "a list"
    if isinstance(like, dict):
        return "a mapping"
    return "a string" if isinstance(like, str) else "null"


_HINTS = {
    "a bool": "give true or false",
    "an int": "give a whole number, e.g. --param NAME=5",
    "a number": "give a number, e.g. --param NAME=0.5",
    "a list": 'give a JSON list, e.g. --param NAME=\'["a", "b"]\'',
    "a mapping": "give a JSON object, e.g. --param NAME='{\"k\": 1}'",
    "a string": "any text will do",
    "null": "any text or JSON will do",
}


def _known(name: str, declared: Mapping[str, Any]) -> str:
    if not declared:
        return "the pipeline declares no params: add them under `params:` in pipeline.yaml"
    close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"params in pipeline.yaml: {', '.join(sorted(declared))}"


def override(pipeline: Pipeline, values: Mapping[str, Any]) -> Pipeline:
    """The pipeline with `values` over its params. Its digest covers them, so a plan saved
    with them is applied with them, and one saved without them is stale."""
    if not values:
        return pipeline
    digest = digest_bytes(b"\0".join([pipeline.digest.encode(), canonical(dict(values))]))
    return dataclasses.replace(
        pipeline, params={**pipeline.params, **values}, overrides=dict(values), digest=digest
    )
