"""Cron schedules as a CronJob reads them: each field's errors, and the next run in a zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from kitecli.spec import cron

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("0 3 * *", 0, "expected 5 fields, found 4"),
        ("61 * * * *", 0, "minute: 61 is out of range (0-59)"),
        ("0 24 * * *", 2, "hour: 24 is out of range (0-23)"),
        ("0 3 0 * *", 4, "day of month: 0 is out of range (1-31)"),
        ("0 3 * jam *", 6, "month: 'jam' is not a number from 1 to 12"),
        ("0 3 * * 7", 8, "day of week: 7 is out of range (0-6)"),
        ("0 3 * * 1,2,x", 12, "day of week: 'x' is not a number"),
        ("*/0 * * * *", 0, "minute: the step '0' is not a number above 0"),
        ("0 5-1 * * *", 2, "hour: the range '5-1' runs backwards"),
        ("0 3 30 2 *", 4, "no chosen month has that day"),
        ("@every 5m", 0, "unknown macro"),
        ("TZ=UTC 0 3 * * *", 0, "a time zone inside the schedule"),
    ],
)
def test_a_wrong_field_is_named_with_its_offset(text: str, offset: int, message: str) -> None:
    with pytest.raises(cron.CronError) as caught:
        cron.parse(text)
    assert message in caught.value.message
    assert caught.value.offset == offset


def test_names_ranges_steps_and_lists() -> None:
    parsed = cron.parse("*/20 9-17/4 1,15 jan-mar mon-fri")
    assert parsed.minutes == {0, 20, 40}
    assert parsed.hours == {9, 13, 17}
    assert parsed.days == {1, 15}
    assert parsed.months == {1, 2, 3}
    assert parsed.weekdays == {1, 2, 3, 4, 5}


def next_of(text: str, after: dt.datetime, zone: dt.tzinfo = UTC) -> dt.datetime | None:
    return cron.next_run(cron.parse(text), after, zone)


def test_the_next_run_is_strictly_after() -> None:
    at = dt.datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert next_of("0 3 * * *", at) == dt.datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
    assert next_of("@hourly", at) == dt.datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert next_of("@yearly", at) == dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert next_of("0 0 29 2 *", at) == dt.datetime(2028, 2, 29, tzinfo=UTC)


def test_both_day_fields_restricted_match_either() -> None:
    # the 13th, or any Friday: 2026-12-11 is a Friday before the 13th
    at = dt.datetime(2026, 12, 7, tzinfo=UTC)
    assert next_of("0 0 13 * fri", at) == dt.datetime(2026, 12, 11, tzinfo=UTC)
    # with the day of week `*`, the day of month alone decides
    assert next_of("0 0 13 * *", at) == dt.datetime(2026, 12, 13, tzinfo=UTC)


def test_times_are_wall_clock_times_of_the_zone() -> None:
    winter = dt.datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert next_of("0 3 * * *", winter, BERLIN) == dt.datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    summer = dt.datetime(2026, 7, 7, 12, tzinfo=UTC)
    assert next_of("0 3 * * *", summer, BERLIN) == dt.datetime(2026, 7, 8, 1, 0, tzinfo=UTC)


def test_a_time_the_clock_change_skips_does_not_fire() -> None:
    # 2026-03-29 02:30 does not exist in Berlin: the next 02:30 is the day after
    before = dt.datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert next_of("30 2 * * *", before, BERLIN) == dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
