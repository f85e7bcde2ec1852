"""What a stage's `accept:` checks are, as data: for the plan's text and the fingerprint.

The checks themselves run in kitecli/run/accept.py.
"""

from __future__ import annotations

from typing import Any

from kitecli.spec.model import Accept, Stage


def describe(accept: Accept) -> str:
    """The checks as one line for the plan, e.g. `min_files 1, rule size(files) < 10`."""
    parts = [
        f"{name} {value}"
        for name, value in (
            ("min_files", accept.min_files),
            ("max_files", accept.max_files),
            ("max_bytes", accept.max_bytes),
            ("json_schema", accept.json_schema),
        )
        if value is not None
    ]
    parts += [f"rule {rule}" for rule in accept.rules]
    if accept.command:
        parts.append("command " + " ".join(accept.command))
    return ", ".join(parts) or "no checks"


def gated(stage: Stage) -> bool:
    """True when any output of the stage has acceptance checks."""
    return any(out.accept is not None for out in stage.outputs)


def reads_files(stage: Stage) -> bool:
    """True when a check needs the output files on disk (a schema or a validator)."""
    return any(
        out.accept is not None and (out.accept.json_schema or out.accept.command)
        for out in stage.outputs
    )


def definition(stage: Stage) -> dict[str, Any]:
    """The stage's checks as plain data, for its fingerprint ({} when it has none)."""
    return {
        out.name: {
            "min_files": out.accept.min_files,
            "max_files": out.accept.max_files,
            "max_bytes": out.accept.max_bytes,
            "json_schema": out.accept.json_schema,
            "rules": list(out.accept.rules),
            "command": list(out.accept.command),
        }
        for out in stage.outputs
        if out.accept is not None
    }


def schema_files(stage: Stage) -> list[str]:
    """The schema files the stage's checks read (their content is in its fingerprint)."""
    found = [o.accept.json_schema for o in stage.outputs if o.accept and o.accept.json_schema]
    return sorted(set(found))
