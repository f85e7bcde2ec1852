"""`kite plan` without typer: its plain command lines, parsed by hand.

Importing typer and every command costs as much as planning 10,000 unchanged datums, so
`kite plan` with the options of its help (long or short, `--opt VALUE` or `--opt=VALUE`)
runs from here, through the same `planview.execute` as the typer command. Anything else
(help, a repeated single option, a missing value, a stray argument) returns None and goes
to the typer application, so help and usage errors are exactly the ones typer gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_FLAGS = {
    "--downstream": "downstream",
    "--full": "full",
    "--json": "as_json",
    "--detailed-exitcode": "detailed_exitcode",
}
_SINGLE = {"--env": "env", "-e": "env", "--out": "save", "-o": "save"}
_SINGLE |= {"--file": "file", "-f": "file"}
_MANY = {"--stage": "stages", "-s": "stages", "--param": "params", "-p": "params"}


def parse_plan(args: Sequence[str]) -> dict[str, Any] | None:
    """The options of a plain `kite plan` command line (for planview.execute), or None."""
    options: dict[str, Any] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _FLAGS and not eq and _FLAGS[name] not in options:
            options[_FLAGS[name]] = True
            continue
        if name not in _SINGLE and name not in _MANY:
            return None  # help, a positional argument, an unknown or combined option
        if eq:
            value = inline
        elif rest:
            value = rest.pop(0)
        else:
            return None  # a missing value: typer says so
        if not value or value.startswith("-"):
            return None
        if name in _MANY:
            options.setdefault(_MANY[name], []).append(value)
        elif _SINGLE[name] in options:
            return None  # given twice: leave the rule to typer
        else:
            options[_SINGLE[name]] = value
    return _typed(options)


def _typed(options: dict[str, Any]) -> dict[str, Any]:
    from pathlib import Path

    for name in ("save", "file"):
        if name in options:
            options[name] = Path(options[name])
    return options


def dispatch(args: Sequence[str]) -> int | None:
    """Run `kite plan ARGS` and return its exit code; None if typer must handle it."""
    options = parse_plan(args)
    if options is None:
        return None
    from kitecli.cli.fast import guarded
    from kitecli.cli.planview import execute

    return guarded(lambda: execute(**options))
