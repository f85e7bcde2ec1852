"""Breakpoints through `kite apply`: `--break-before STAGE` and `--break-on-failure` pause
the run (exit 6) with what ran before committed, and `kite apply` again goes on."""

from __future__ import annotations

import json
from pathlib import Path

from kitecli.errors import ExitCode
from tests.e2e import make_project


def _runs(run_kite) -> list[dict]:
    return json.loads(run_kite("log", "--json").stdout)


def test_break_before_a_stage_pauses_with_what_ran_before_it_committed(
    tmp_path: Path, run_kite
) -> None:
    calls = make_project(tmp_path)
    paused = run_kite("apply", "--break-before", "size", env={"CALLS_LOG": str(calls)})
    assert paused.code == ExitCode.PAUSED == 6, paused.stderr
    assert "paused before stage size" in paused.stderr
    assert "continue: kite apply\n" in paused.stderr
    assert f"kite show {_runs(run_kite)[0]['id']}" in paused.stderr
    ran = calls.read_text().splitlines()
    assert sorted(line.split()[0] for line in ran) == ["clean"] * 3  # size and total did not
    assert sorted(p.name for p in (tmp_path / "data/clean").iterdir()) == [
        "2024-01-01.csv",
        "2024-01-02.csv",
        "2024-01-03.csv",
    ]
    assert not (tmp_path / "data/size").exists()
    run = _runs(run_kite)[0]
    assert run["status"] == "paused"
    shown = json.loads(run_kite("show", "last", "--json").stdout)
    assert shown["paused"] == "before stage size"
    assert shown["options"] == {"break_before": ["size"]}
    assert "paused before stage size" in run_kite("show", "last").stdout
    assert " paused " in run_kite("log").stdout
    # the plan now has clean committed: only size and total are left
    plan = run_kite("plan").stdout
    assert "clean: 3 unchanged" in plan, plan
    assert "Plan: 3 to run" in plan, plan
    again = run_kite("apply", env={"CALLS_LOG": str(calls)})
    assert again.code == 0, again.stderr
    stages = [line.split()[0] for line in calls.read_text().splitlines()]
    assert stages.count("clean") == 3  # not run again
    assert stages.count("size") == 3
    assert stages.count("total") == 1
    assert (tmp_path / "data/total/all.txt").exists()


def test_break_before_a_stage_with_nothing_to_do_does_not_pause(tmp_path: Path, run_kite) -> None:
    calls = make_project(tmp_path)
    assert run_kite("apply", env={"CALLS_LOG": str(calls)}).code == 0
    (tmp_path / "data/raw/2024-01-04.csv").write_text("day,4\n")
    result = run_kite("apply", "--break-before", "nosuch", env={"CALLS_LOG": str(calls)})
    assert result.code == ExitCode.USAGE, result.stderr
    assert "--break-before nosuch: no such stage in pipeline.yaml" in result.stderr
    assert "clean, size, total" in result.stderr
    result = run_kite("apply", "--break-before", "clean", env={"CALLS_LOG": str(calls)})
    assert result.code == ExitCode.PAUSED, result.stderr
    result = run_kite("apply", "--break-before", "clean", env={"CALLS_LOG": str(calls)})
    assert result.code == ExitCode.PAUSED, result.stderr  # clean still has its new datum
    assert calls.read_text().count("clean ") == 3  # the new datum never ran
    assert run_kite("apply", env={"CALLS_LOG": str(calls)}).code == 0
    assert calls.read_text().count("clean ") == 4


def test_break_on_failure_pauses_after_the_failed_datum(tmp_path: Path, run_kite) -> None:
    calls = make_project(tmp_path)
    env = {"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"}
    paused = run_kite("apply", "--break-on-failure", "-j", "1", env=env)
    assert paused.code == ExitCode.PAUSED, paused.stderr
    assert "paused after clean day=2024-01-02 failed" in paused.stderr
    assert "continue: kite apply -j 1\n" in paused.stderr
    stages = [line.split()[0] for line in calls.read_text().splitlines()]
    assert "size" not in stages
    assert "total" not in stages
    # with one task at a time, the datum after the failed one did not start
    assert stages.count("clean") == 2, stages
    shown = json.loads(run_kite("show", "last", "--json").stdout)
    assert shown["status"] == "paused"
    assert shown["options"] == {"break_on_failure": True}
    # the datum before the failed one is committed: going on runs the rest only
    again = run_kite("apply", env={"CALLS_LOG": str(calls)})
    assert again.code == 0, again.stderr
    stages = [line.split()[0] for line in calls.read_text().splitlines()]
    assert stages.count("clean") == 4, stages  # 01 once, 02 failed then again, 03 once


def test_without_a_breakpoint_a_failure_does_not_pause(tmp_path: Path, run_kite) -> None:
    calls = make_project(tmp_path)
    env = {"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"}
    failed = run_kite("apply", "-j", "1", env=env)
    assert failed.code == ExitCode.FAILED, failed.stderr
    assert "paused" not in failed.stderr
    assert calls.read_text().count("clean ") == 3
