"""`each` patterns and the time fields of a datum's key.

An `each` pattern is a path relative to the input directory: `{field}` matches one path
segment or part of one, `*` any part of a segment, `**` any number of segments. A key
field whose value looks like a date also gives `year`, `month` and `day`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PatternError(ValueError):
    """An invalid `each` pattern; `offset` is the 0-based character it goes wrong at."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Pattern:
    """A compiled `each` pattern: match a relative posix path, get its key fields."""

    source: str
    regex: re.Pattern[str]
    fields: tuple[str, ...]

    def match(self, relpath: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(relpath)
        return found.groupdict() if found else None


def compile_pattern(source: str) -> Pattern:
    """Compile an `each` pattern; raises PatternError naming what is wrong and where."""
    if not source or source.startswith("/"):
        raise PatternError("a pattern is a relative path like '{date}/{station}.csv'")
    parts: list[str] = []
    fields: list[str] = []
    offset = 0
    for segment in source.split("/"):
        parts.append(_segment(segment, offset, fields))
        offset += len(segment) + 1
    body = "".join(p if i == 0 else _join(parts[i - 1], p) for i, p in enumerate(parts))
    return Pattern(source, re.compile(body), tuple(fields))


def _join(previous: str, current: str) -> str:
    # `**/` may match no directory at all: its trailing slash is folded into it.
    if previous.endswith("(?:.*/)?"):
        return current
    return "/" + current


def _segment(segment: str, offset: int, fields: list[str]) -> str:
    if segment == "":
        raise PatternError("empty path segment ('//' or a trailing '/')", offset)
    if segment in (".", ".."):
        raise PatternError(f"'{segment}' is not allowed in a pattern", offset)
    if segment == "**":
        return "(?:.*/)?"
    if "**" in segment:
        raise PatternError("'**' must be a whole path segment, as in 'a/**/b.csv'", offset)
    out: list[str] = []
    pos = 0
    last_was_field = False
    while pos < len(segment):
        char = segment[pos]
        match = _FIELD.match(segment, pos)
        if match:
            name = match.group(1)
            if name in fields:
                raise PatternError(f"field '{name}' appears twice", offset + pos)
            if last_was_field:
                raise PatternError(
                    "two adjacent fields cannot be told apart; put a separator between them",
                    offset + pos,
                )
            fields.append(name)
            out.append(f"(?P<{name}>[^/]+?)")
            pos, last_was_field = match.end(), True
            continue
        if char in "{}":
            raise PatternError(
                "'{' and '}' enclose a field name made of letters, digits and '_'", offset + pos
            )
        out.append("[^/]*" if char == "*" else re.escape(char))
        pos, last_was_field = pos + 1, False
    return "".join(out)


# ------------------------------------------------------------------------- time fields

_DAY = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def time_fields(value: str) -> dict[str, str]:
    """`year`, `month`, `day` of a `YYYY-MM-DD[Thh:mm[:ss]]` value; `year`, `month` of `YYYY-MM`."""
    found = _DAY.fullmatch(value)
    if found:
        year, month, day = found.groups()
        try:
            dt.date(int(year), int(month), int(day))
        except ValueError:
            return {}
        return {"year": year, "month": f"{year}-{month}", "day": f"{year}-{month}-{day}"}
    found = _MONTH.fullmatch(value)
    if found and 1 <= int(found.group(2)) <= 12:
        return {"year": found.group(1), "month": f"{found.group(1)}-{found.group(2)}"}
    return {}


def datum_fields(key: Mapping[str, str]) -> dict[str, str]:
    """A key plus the time fields derived from its date-like field; the key's own fields win.

    When several fields look like dates, the finest one (a day over a month) is used, and
    among equals the first in alphabetical order of the field names.
    """
    best: dict[str, str] = {}
    for name in sorted(key):
        derived = time_fields(key[name])
        if len(derived) > len(best):
            best = derived
    return {**best, **key} if best else dict(key)
