"""`kite apply` end to end through the command line, on real files and processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e import DAYS, calls, make_project


def stage_calls(lines: list[str], stage: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in lines if line.startswith(stage + " ")]


def test_first_apply_runs_everything_and_second_nothing(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    first = run_kite("apply", env=env)
    assert first.code == 0, first.stderr
    ran = calls(log)
    assert sorted(stage_calls(ran, "clean")) == [f"{d}.csv" for d in DAYS]
    assert len(stage_calls(ran, "size")) == 3
    assert len(stage_calls(ran, "total")) == 1
    assert (tmp_path / "data/clean/2024-01-02.csv").read_text() == "DAY,2024-01-02\n"
    assert (tmp_path / "data/total/all.txt").read_text() == "9\n"
    second = run_kite("apply", env=env)
    assert second.code == 0, second.stderr
    assert calls(log) == []
    assert (tmp_path / "kite.lock").exists()


def test_one_changed_file_reruns_its_datum_and_dependents_only(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    calls(log)
    (tmp_path / "data/raw/2024-01-02.csv").write_text("day,2024-01-02,changed\n")
    assert run_kite("apply", env=env).code == 0
    ran = calls(log)
    assert stage_calls(ran, "clean") == ["2024-01-02.csv"]
    assert stage_calls(ran, "size") == ["2024-01-02.csv"]
    assert len(stage_calls(ran, "total")) == 1


def test_reverting_a_change_is_served_from_the_run_cache(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    raw = tmp_path / "data/raw/2024-01-02.csv"
    original = raw.read_text()
    assert run_kite("apply", env=env).code == 0
    raw.write_text("changed\n")
    assert run_kite("apply", env=env).code == 0
    calls(log)
    raw.write_text(original)
    result = run_kite("apply", env=env)
    assert result.code == 0, result.stderr
    assert calls(log) == []
    assert (tmp_path / "data/clean/2024-01-02.csv").read_text() == "DAY,2024-01-02\n"
    assert (tmp_path / "data/total/all.txt").read_text() == "9\n"


def test_byte_identical_output_stops_downstream(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    calls(log)
    pipeline = tmp_path / "pipeline.yaml"
    # a new command for `clean` (an extra argument the step ignores): same bytes out
    text = pipeline.read_text().replace('"{{ outputs.clean }}"]', '"{{ outputs.clean }}", ignored]')
    pipeline.write_text(text)
    assert run_kite("apply", env=env).code == 0
    ran = calls(log)
    assert len(stage_calls(ran, "clean")) == 3
    assert stage_calls(ran, "size") == []
    assert stage_calls(ran, "total") == []


def test_removed_input_removes_exactly_its_outputs(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    (tmp_path / "data/raw/2024-01-03.csv").unlink()
    assert run_kite("apply", env=env).code == 0
    assert sorted(p.name for p in (tmp_path / "data/clean").iterdir()) == [
        "2024-01-01.csv",
        "2024-01-02.csv",
    ]
    assert not (tmp_path / "data/size/2024-01-03.txt").exists()
    assert (tmp_path / "data/total/all.txt").read_text() == "6\n"


def test_a_failing_datum_keeps_previous_outputs_and_exits_1(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    before = (tmp_path / "data/clean/2024-01-02.csv").read_text()
    (tmp_path / "data/raw/2024-01-02.csv").write_text("day,broken\n")
    failed = run_kite("apply", env={**env, "STEP_FAIL": "2024-01-02.csv"})
    assert failed.code == 1, failed.stderr
    assert (tmp_path / "data/clean/2024-01-02.csv").read_text() == before
    history = run_kite("log", "--json")
    assert history.code == 0, history.stderr
    runs = json.loads(history.stdout)
    assert [r["status"] for r in runs] == ["failed", "succeeded"]
    shown = run_kite("show", "last")
    assert "exit   7" in shown.stdout
    logs = run_kite("logs", "last", "clean", "--datum", "day=2024-01-02")
    assert logs.code == 0
    assert "attempt 1 (failed)" in logs.stdout
    assert "clean processing 2024-01-02.csv" in logs.stdout
    assert "2024-01-01" not in logs.stdout
