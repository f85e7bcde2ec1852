"""Cron schedules as a Kubernetes CronJob reads them: parsed field by field, next run found.

Five fields (minute hour day-of-month month day-of-week) or a macro (`@hourly`, `@daily`,
`@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`). A field is `*` (or `?`), a
number, a range `a-b`, a step `*/n` or `a-b/n` or `a/n`, or a comma list of those; months
and weekdays may be names (`jan`, `mon`). Weekdays are 0-6, Sunday 0, as the cluster's
parser has them. When both day fields are restricted, a day matches either (classic cron).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = ("minute", "hour", "day of month", "month", "day of week")
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
HINT = "five fields: minute hour day-of-month month day-of-week, like `0 3 * * *` (03:00 daily)"
LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
SEARCH_DAYS = 366 * 8 + 2  # a 29 February on a given weekday comes back within 28 years


class CronError(ValueError):
    """A schedule that is not valid; `offset` is where in the text the problem starts."""

    def __init__(self, message: str, offset: int = 0, hint: str = HINT) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True)
class Cron:
    """A parsed schedule: the values each field allows."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month is `*`
    any_weekday: bool  # day of week is `*`

    def day_matches(self, day: dt.date) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week


def parse(text: str) -> Cron:
    """The schedule `text`, or CronError naming the field that is wrong and where."""
    stripped = text.strip()
    if stripped.upper().startswith(("TZ=", "CRON_TZ=")):
        raise CronError(
            "a time zone inside the schedule is not allowed",
            hint="write the zone as `timezone: Europe/Berlin` next to `cron:`",
        )
    expanded = MACROS.get(stripped.lower(), stripped)
    if expanded.startswith("@"):
        raise CronError(
            f"unknown macro {stripped!r}",
            hint="use @hourly, @daily, @weekly, @monthly or @yearly, or five fields",
        )
    parts = _split(expanded)
    if len(parts) != 5:
        raise CronError(f"expected 5 fields, found {len(parts)}")
    lead = len(text) - len(text.lstrip())
    offsets = [0 if expanded is not stripped else offset + lead for offset, _ in parts]
    sets: list[frozenset[int]] = []
    stars: list[bool] = []
    for index, (_, part) in enumerate(parts):
        values, star = _field(index, part, offsets[index])
        sets.append(values)
        stars.append(star)
    minutes, hours, days, months, weekdays = sets
    cron = Cron(text, minutes, hours, days, months, weekdays, stars[2], stars[4])
    _check_possible(cron, offsets[2])
    return cron


def _split(text: str) -> list[tuple[int, str]]:
    """The whitespace-separated fields with their offsets."""
    out: list[tuple[int, str]] = []
    index = 0
    for part in text.split():
        index = text.index(part, index)
        out.append((index, part))
        index += len(part)
    return out


def _field(index: int, text: str, offset: int) -> tuple[frozenset[int], bool]:
    """The values of field `index` and whether it is `*`; CronError at its offset."""
    low, high = BOUNDS[index]
    values: set[int] = set()
    star = False
    at = offset
    for item in text.split(","):
        found, star_item = _item(index, item, at, low, high)
        values |= found
        star = star or star_item
        at += len(item) + 1
    return frozenset(values), star


def _item(index: int, item: str, at: int, low: int, high: int) -> tuple[set[int], bool]:
    name = FIELDS[index]
    span, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"{name}: the step {step_text!r} is not a number above 0", at)
        step = int(step_text)
    if span in ("*", "?"):
        return set(range(low, high + 1, step)), step == 1
    first, dash, last = span.partition("-")
    start = _value(index, first, at)
    end = _value(index, last, at + len(first) + 1) if dash else (high if step_text else start)
    if end < start:
        raise CronError(f"{name}: the range {span!r} runs backwards", at)
    return set(range(start, end + 1, step)), False


def _value(index: int, text: str, at: int) -> int:
    low, high = BOUNDS[index]
    name = FIELDS[index]
    names = MONTHS if index == 3 else DAYS if index == 4 else ()
    if text.lower() in names:
        return names.index(text.lower()) + (1 if index == 3 else 0)
    if not text.isdigit():
        some = f", or a name like {names[0]}" if names else ""
        raise CronError(f"{name}: {text!r} is not a number from {low} to {high}{some}", at)
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name}: {value} is out of range ({low}-{high})", at)
    return value


def _check_possible(cron: Cron, day_offset: int) -> None:
    """A day of month that no chosen month has (30 February) would never run."""
    if cron.any_day or not cron.any_weekday:
        return
    if not any(d <= LONGEST_MONTH[m - 1] for m in cron.months for d in cron.days):
        raise CronError(
            "day of month: no chosen month has that day; it would never run", day_offset
        )


def next_run(cron: Cron, after: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
    """The first time strictly after `after` (aware) that `cron` fires in `zone`.

    Wall-clock times a daylight-saving change skips do not fire; None when nothing fires
    within the search window (only for impossible dates).
    """
    start = after.astimezone(zone)
    day = start.date()
    for _ in range(SEARCH_DAYS):
        if day.month in cron.months and cron.day_matches(day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    real = local.astimezone(dt.UTC)
                    if real.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
                        continue  # skipped by a clock change
                    if real > after:
                        return real
        day += dt.timedelta(days=1)
    return None
