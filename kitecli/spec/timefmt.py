"""Durations (`30m`, `1h30m`, `1d`) and ISO dates, as pipeline.yaml and the CLI write them."""

from __future__ import annotations

import datetime as dt
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
DURATION_HINT = "write a number of seconds or a duration like 90s, 30m, 1h30m, 2d"


def parse_duration(value: object) -> float:
    """Seconds in a duration; raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"negative duration: {value!r}")
        return float(value)
    text = str(value).strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"not a duration: {text!r}")
    return total


def parse_when(value: object) -> dt.date | dt.datetime:
    """A date (`2024-01-31`) or a timestamp (`2024-01-31T06:00`); ValueError otherwise."""
    if isinstance(value, dt.datetime | dt.date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return dt.date.fromisoformat(text)
    if re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", text
    ):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    raise ValueError(f"not a date: {text!r} (write YYYY-MM-DD or YYYY-MM-DDTHH:MM)")


def iso(value: dt.date | dt.datetime) -> str:
    """The form a date takes in a datum key and in paths."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    return value.isoformat()
