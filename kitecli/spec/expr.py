"""CEL expressions for `when:`, `accept.rules` and `datums:` lists: safe, total, no Python.

The CEL library is `common-expression-language` (a Rust core; see docs/expressions.md for
why, with numbers). Expressions see plain data only: mappings, lists, strings, numbers,
booleans and null. Nothing callable is ever handed to the evaluator, so an expression can
call no Python, whatever a param or a datum field holds.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
_PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class SyntaxProblem:
    """Why a CEL expression does not parse; line and col are 1-based, within it."""

    message: str
    line: int = 1
    col: int = 1


class ExprEvalError(Exception):
    """A CEL expression that failed while being evaluated (its message says why)."""


_LOADING = threading.Lock()


def _cel() -> ModuleType:
    """The library's compiled core, loaded without its package's command-line front end.

    `import cel` also imports the library's interactive shell (typer, prompt_toolkit):
    about 0.3 s that kite does not need. Loading the extension module alone takes a
    tenth of that; if the layout of the package changes, the ordinary import is used.
    The core may be loaded only once per process (a second load aborts): hence the lock,
    as acceptance rules are evaluated on the runner's threads.
    """
    loaded = sys.modules.get("cel.cel")
    if loaded is not None:
        return loaded
    with _LOADING:
        return sys.modules.get("cel.cel") or _load()


def _load() -> ModuleType:
    found = importlib.util.find_spec("cel")
    folders = list(found.submodule_search_locations or ()) if found else []
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for folder in folders:
            path = Path(folder) / f"cel{suffix}"
            spec = importlib.util.spec_from_file_location("cel.cel", path)
            if path.is_file() and spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules["cel.cel"] = module  # a later `import cel` reuses it
                return module
    import cel

    return cel


@functools.lru_cache(maxsize=512)
def _program(source: str) -> Any:
    return _cel().compile(source)


def check(source: str) -> SyntaxProblem | None:
    """Parse `source` only; return its syntax error, if any."""
    try:
        _program(source)
    except (ValueError, RuntimeError) as exc:
        found = _POSITION.search(str(exc))
        if found:
            message = found.group(3).split(" expecting {")[0]
            return SyntaxProblem(message, int(found.group(1)), int(found.group(2)))
        return SyntaxProblem(str(exc).splitlines()[0])
    return None


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate `source` over plain data (mappings, lists, str, int, float, bool, None).

    Raises ExprEvalError with a short message (no such key, no such overload, ...).
    """
    context = {name: plain(value) for name, value in variables.items()}
    try:
        return _program(source).execute(context)
    except KeyError as exc:
        raise ExprEvalError(f"no such key: {exc.args[0]!r}" if exc.args else "no such key") from exc
    except (ValueError, RuntimeError, TypeError, ArithmeticError) as exc:
        raise ExprEvalError(_message(exc)) from exc


def condition(source: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate `source`, which must give true or false."""
    value = evaluate(source, variables)
    if not isinstance(value, bool):
        raise ExprEvalError(f"gave {value!r}, not true or false")
    return value


def names(source: str) -> frozenset[str]:
    """The variables `source` refers to (with the names its macros bind, like `f` in
    `files.all(f, ...)`); empty for an expression that does not parse."""
    try:
        return frozenset(_program(source).variables())
    except (ValueError, RuntimeError):
        return frozenset()


def mentions(source: str, variable: str) -> bool:
    """True when `source` refers to the top-level `variable` (e.g. `datum`)."""
    return variable in names(source)


def plain(value: Any) -> Any:
    """`value` as plain data for CEL: mappings become dicts, tuples lists; anything else
    (a function, an object) is refused, so no Python can be reached from an expression."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    raise TypeError(f"not plain data for a CEL expression: {type(value).__name__}")


def _message(exc: Exception) -> str:
    """The library's message, first sentence of its first line, without advice for Python."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for tail in (" Check ", " CEL does not coerce", " Convert explicitly"):
        text = text.split(tail)[0]
    return text.rstrip(". ") or type(exc).__name__
