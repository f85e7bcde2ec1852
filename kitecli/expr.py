"""CEL expressions for `when:`, `accept.rules` and `datums:` lists: safe, total, no Python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")


@dataclass(frozen=True)
class SyntaxProblem:
    """Why a CEL expression does not parse; line and col are 1-based, within it."""

    message: str
    line: int = 1
    col: int = 1


class ExprEvalError(Exception):
    """A CEL expression that failed while being evaluated."""


def check(source: str) -> SyntaxProblem | None:
    """Parse `source` only; return its syntax error, if any."""
    import cel  # ~0.3 s to import: only when an expression is present

    try:
        cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        found = _POSITION.search(str(exc))
        if found:
            message = found.group(3).split(" expecting {")[0]
            return SyntaxProblem(message, int(found.group(1)), int(found.group(2)))
        return SyntaxProblem(str(exc).splitlines()[0])
    return None


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate `source` over plain Python values (dicts, lists, str, int, float, bool)."""
    import cel

    try:
        return cel.evaluate(source, dict(variables))
    except (ValueError, RuntimeError, TypeError, KeyError) as exc:
        raise ExprEvalError(str(exc).splitlines()[0]) from exc


def mentions(source: str, variable: str) -> bool:
    """True when `source` refers to the top-level `variable` (e.g. `datum`)."""
    return re.search(rf"(?<![\w.]){re.escape(variable)}\b", source) is not None
