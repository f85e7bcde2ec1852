"""How commands print: human text on stdout, diagnostics on stderr, colour only on a TTY."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from kitecli.errors import KiteError, PipelineError


def color(stream: TextIO) -> bool:
    """Colour only on a terminal, and not when NO_COLOR is set (non-empty) or TERM=dumb."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def style(text: str, code: str, stream: TextIO = sys.stdout) -> str:
    """`text` in an ANSI style (e.g. "1;32") when `stream` takes colour."""
    return f"\033[{code}m{text}\033[0m" if color(stream) else text


def out(text: str = "") -> None:
    print(text, file=sys.stdout)


def emit_json(value: Any) -> None:
    """Machine output: one JSON document on stdout."""
    json.dump(value, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def error(message: str, *, hint: str | None = None) -> None:
    print(style("error:", "1;31", sys.stderr), message, file=sys.stderr)
    if hint:
        print(style("hint:", "1;36", sys.stderr), hint, file=sys.stderr)


def render_error(exc: KiteError) -> None:
    """A KiteError as the user sees it: diagnostics with positions, `error:` and `hint:`."""
    if isinstance(exc, PipelineError):
        for diagnostic in exc.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
    error(exc.message, hint=exc.hint)


def note(message: str) -> None:
    print(message, file=sys.stderr)
