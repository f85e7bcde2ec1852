"""`kite backfill` through the command line on 10 daily partitions, and its time ranges."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from kitecli.errors import UsageError
from kitecli.plan.timerange import datum_period, parse_range, period
from tests.e2e import calls, make_project
from tests.helpers import kite

DAYS = tuple(f"2024-01-{d:02d}" for d in range(1, 11))


def stage_calls(lines: list[str], stage: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in lines if line.startswith(stage + " ")]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with 10 daily partitions, applied once (copied for each test)."""
    root = tmp_path_factory.mktemp("backfill-base")
    log = make_project(root, days=DAYS)
    first = kite("apply", "-j", "2", cwd=root, env={"CALLS_LOG": str(log)})
    assert first.code == 0, first.stderr
    calls(log)
    return root


@pytest.fixture
def project(applied: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    import shutil

    root = tmp_path / "p"
    shutil.copytree(applied, root, symlinks=True)
    text = (root / "pipeline.yaml").read_text()
    (root / "pipeline.yaml").write_text(text)  # paths in it are relative: nothing to fix
    (root / "kite.lock").unlink()
    return root, {"CALLS_LOG": str(root / "calls.log")}


def last_run(root: Path, env: dict[str, str]) -> dict[str, Any]:
    shown = kite("show", "last", "--json", cwd=root, env=env)
    assert shown.code == 0, shown.stderr
    return dict(json.loads(shown.stdout))


@pytest.mark.parametrize("order", ["oldest-first", "newest-first"])
def test_forced_backfill_starts_datums_strictly_in_the_order_asked(
    project: tuple[Path, dict[str, str]], order: str
) -> None:
    root, env = project
    args = ("--range", "2024-01-02..2024-01-09", "--reprocess", "all", "--order", order)
    result = kite("backfill", *args, "--stage", "clean", "--parallel", "1", cwd=root, env=env)
    assert result.code == 0, result.stderr
    wanted = list(DAYS[1:9]) if order == "oldest-first" else list(reversed(DAYS[1:9]))
    # every datum in the range ran again although none changed; none outside it did
    assert stage_calls(calls(root / "calls.log"), "clean") == [f"{d}.csv" for d in wanted]
    run = last_run(root, env)
    attempts = [a for a in run["attempts"] if a["stage"] == "clean"]
    assert [a["key"]["day"] for a in attempts] == wanted
    starts = [a["started"] for a in attempts]
    assert all(a < b for a, b in itertools.pairwise(starts)), starts
    assert run["options"]["range"] == "2024-01-02..2024-01-09"
    assert run["options"]["order"] == order
    assert run["options"]["reprocess"] == "all"
    assert run["options"]["command"] == "backfill"
    # per-stage progress on stderr, as for kite apply (plain lines when not a terminal)
    assert "clean: 8 to do\n" in result.stderr
    assert "clean: 8 succeeded\n" in result.stderr


def test_stale_backfill_runs_only_changed_datums_in_the_range_and_what_follows(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    for day in ("2024-01-01", "2024-01-05"):  # one outside the range, one inside
        (root / f"data/raw/{day}.csv").write_text(f"day,{day},fixed\n")
    result = kite("backfill", "--range", "2024-01-03..2024-01-08", cwd=root, env=env)
    assert result.code == 0, result.stderr
    ran = calls(root / "calls.log")
    assert stage_calls(ran, "clean") == ["2024-01-05.csv"]
    assert stage_calls(ran, "size") == ["2024-01-05.csv"]
    assert len(stage_calls(ran, "total")) == 1  # no date of its own: follows what changed
    planned = kite("plan", cwd=root, env=env)  # the day outside the range was left alone
    assert "input changed: raw/2024-01-01.csv" in planned.stdout
    assert "2024-01-05" not in planned.stdout


def test_failed_backfill_picks_exactly_the_failed_datums(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    for day in ("2024-01-03", "2024-01-06", "2024-01-08"):
        (root / f"data/raw/{day}.csv").write_text(f"day,{day},v2\n")
    failing = {**env, "STEP_FAIL": "2024-01-03.csv"}
    first = kite("apply", "--stage", "clean", cwd=root, env=failing)
    assert first.code == 1, first.stderr
    calls(root / "calls.log")
    failing = {**env, "STEP_FAIL": "2024-01-06.csv"}
    (root / "data/raw/2024-01-06.csv").write_text("day,2024-01-06,v3\n")
    one_day = ("--range", "2024-01-06..2024-01-06", "--stage", "clean")
    assert kite("backfill", *one_day, cwd=root, env=failing).code == 1  # 03 is left alone
    assert stage_calls(calls(root / "calls.log"), "clean") == ["2024-01-06.csv"]
    # now 03 and 06 failed last; 07 is stale (changed) but did not fail
    (root / "data/raw/2024-01-07.csv").write_text("day,2024-01-07,v2\n")
    dry = kite("backfill", "--range", "2024-01", "--reprocess", "failed", "--dry-run", cwd=root)
    assert dry.code == 64  # a range has two ends
    args = ("--range", "2024-01..2024-01", "--reprocess", "failed", "--stage", "clean")
    dry = kite("backfill", *args, "--dry-run", cwd=root, env=env)
    assert dry.code == 0, dry.stderr
    assert "clean: 2 to run" in dry.stdout
    assert calls(root / "calls.log") == []
    result = kite("backfill", *args, "-j", "1", cwd=root, env=env)
    assert result.code == 0, result.stderr
    assert stage_calls(calls(root / "calls.log"), "clean") == ["2024-01-03.csv", "2024-01-06.csv"]
    assert last_run(root, env)["options"]["reprocess"] == "failed"


def test_dry_run_lists_datums_in_run_order_and_runs_nothing(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    args = ("--range", "2024-01-04..2024-01-06", "--reprocess", "all", "--order", "newest-first")
    dry = kite("backfill", *args, "--dry-run", cwd=root, env=env)
    assert dry.code == 0, dry.stderr
    lines = [line.split()[-1] for line in dry.stdout.splitlines() if "~ run" in line]
    assert lines[:3] == ["day=2024-01-06", "day=2024-01-05", "day=2024-01-04"]
    assert "Plan: 3 to run, 0 from cache, 0 to delete, 4 pending" in dry.stdout
    assert calls(root / "calls.log") == []
    assert "Note:" not in dry.stdout


def test_range_ends_are_inclusive_days_months_and_timestamps() -> None:
    days = parse_range("2024-01-30..2024-02-01").period
    assert (days.start, days.end) == (dt.datetime(2024, 1, 30), dt.datetime(2024, 2, 2))
    months = parse_range("2023-12..2024-02").period
    assert (months.start, months.end) == (dt.datetime(2023, 12, 1), dt.datetime(2024, 3, 1))
    stamps = parse_range("2024-01-05T06:00..2024-01-05T12:00Z").period
    assert stamps.start == dt.datetime(2024, 1, 5, 6)
    assert stamps.end == dt.datetime(2024, 1, 5, 12) + dt.timedelta(microseconds=1)
    inside = period("2024-01-05T12:00")
    assert inside is not None
    assert inside.overlaps(stamps)
    later = period("2024-01-05T12:01")
    assert later is not None
    assert not later.overlaps(stamps)
    for bad in ("2024-01-05", "2024-01-05..", "2024-02-30..2024-03-01", "x..y", "2024-02..2024-01"):
        with pytest.raises(UsageError):
            parse_range(bad)


def test_a_datum_is_in_a_range_when_its_time_overlaps_it() -> None:
    window = parse_range("2024-01-15..2024-01-20").period
    month = datum_period({"month": "2024-01", "station": "A"})
    assert month is not None
    assert month.overlaps(window)  # the month holds days of the range
    finest = datum_period({"month": "2024-02", "day": "2024-01-16"})
    assert finest == period("2024-01-16")  # the finest date-like field counts
    assert datum_period({"station": "A"}) is None
    outside = datum_period({"day": "2024-01-21"})
    assert outside is not None
    assert not outside.overlaps(window)


def test_json_gives_the_dry_run_plan_and_the_run_record(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    args = ("--range", "2024-01-04..2024-01-05", "--reprocess", "all", "--order", "newest-first")
    dry = kite("backfill", *args, "--dry-run", "--json", cwd=root, env=env)
    assert dry.code == 0, dry.stderr
    planned = json.loads(dry.stdout)
    clean = next(s for s in planned["stages"] if s["name"] == "clean")
    runs = [d["key"]["day"] for d in clean["datums"] if d["action"] == "run"]
    assert runs == ["2024-01-05", "2024-01-04"]
    assert calls(root / "calls.log") == []
    done = kite("backfill", *args, "--json", cwd=root, env=env)
    assert done.code == 0, done.stderr
    record = json.loads(done.stdout)
    assert record == last_run(root, env)
    assert record["status"] == "succeeded"
