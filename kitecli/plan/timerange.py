"""Time ranges for `kite backfill --range A..B`, and the time a datum key stands for. Pure.

A bound or a key value is a month (`2024-01`), a day (`2024-01-31`) or a timestamp
(`2024-01-31T06:00`, seconds and an offset optional); each stands for a period: the whole
month, the whole day, or the instant. `A..B` covers from the start of A's period to the end
of B's, both ends inclusive. A datum's key fields that read as one of those forms give its
time; a datum is in the range when its period and the range overlap.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kitecli.errors import UsageError

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
INSTANT = dt.timedelta(microseconds=1)
RANGE_HINT = (
    "write --range A..B with months (2024-01), days (2024-01-31) or timestamps (2024-01-31T06:00)"
)


@dataclass(frozen=True, order=True)
class Period:
    """A half-open span of (naive, UTC for values with an offset) time: [start, end)."""

    start: dt.datetime
    end: dt.datetime

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class TimeRange:
    """`--range A..B`: the text as given, and the period it covers."""

    text: str
    period: Period


def period(value: str) -> Period | None:
    """The period a month, day or timestamp stands for; None for any other text."""
    text = value.strip()
    try:
        if _STAMP.fullmatch(text):
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
            return Period(moment, moment + INSTANT)
        if _DAY.fullmatch(text):
            day = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
            return Period(day, day + dt.timedelta(days=1))
        found = _MONTH.fullmatch(text)
        if found:
            year, month = int(found.group(1)), int(found.group(2))
            start = dt.datetime(year, month, 1)
            after = dt.datetime(year + month // 12, month % 12 + 1, 1)
            return Period(start, after)
    except ValueError:  # 2024-02-30, month 13
        return None
    return None


def parse_range(text: str) -> TimeRange:
    """`A..B` as a TimeRange; a UsageError saying what is wrong otherwise."""
    first, dots, last = text.partition("..")
    if not dots or not first.strip() or not last.strip():
        raise UsageError(f"--range {text!r}: expected two ends, A..B", hint=RANGE_HINT)
    start, end = _bound(text, first), _bound(text, last)
    if end.end <= start.start:
        raise UsageError(
            f"--range {text!r}: it ends before it starts",
            hint="both ends are inclusive: write the earlier one first",
        )
    return TimeRange(text.strip(), Period(start.start, end.end))


def _bound(text: str, bound: str) -> Period:
    found = period(bound)
    if found is None:
        raise UsageError(
            f"--range {text!r}: {bound.strip()!r} is not a month, a day or a timestamp",
            hint=RANGE_HINT,
        )
    return found


def datum_period(key: Mapping[str, str]) -> Period | None:
    """The time a datum key stands for: its finest date-like field (alphabetical on ties)."""
    best: Period | None = None
    for name in sorted(key):
        found = period(key[name])
        if found is not None and (best is None or found.length < best.length):
            best = found
    return best
