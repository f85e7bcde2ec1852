"""`kite apply PLAN` runs exactly a saved plan and refuses a stale one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e import DAYS, calls, make_project


def test_a_saved_plan_runs_exactly_and_only_once(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    planned = run_kite("plan", "--out", "plan.json", env=env)
    assert planned.code == 0, planned.stderr
    applied = run_kite("apply", "plan.json", env=env)
    assert applied.code == 0, applied.stderr
    assert len(calls(log)) == len(DAYS) * 2 + 1
    runs = json.loads(run_kite("log", "--json").stdout)
    shown = json.loads(run_kite("show", runs[0]["id"], "--json").stdout)
    assert shown["plan"] is not None
    assert shown["plan"].startswith("b3:")
    again = run_kite("apply", "plan.json", env=env)
    assert again.code == 3
    assert "moved since the plan was made" in again.stderr
    assert calls(log) == []


def test_a_plan_is_refused_when_the_pipeline_changed(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("plan", "--out", "plan.json", env=env).code == 0
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("name: e2e", "name: e2e-changed"))
    refused = run_kite("apply", "plan.json", env=env)
    assert refused.code == 3
    assert "pipeline.yaml changed" in refused.stderr
    assert calls(log) == []


def test_a_plan_is_refused_when_a_planned_input_changed(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("plan", "--out", "plan.json", env=env).code == 0
    (tmp_path / "data/raw/2024-01-02.csv").write_text("edited after planning\n")
    refused = run_kite("apply", "plan.json", env=env)
    assert refused.code == 3
    assert "raw/2024-01-02.csv changed since the plan was made" in refused.stderr
    assert calls(log) == []
    assert not (tmp_path / "data/clean").exists()


def test_a_saved_plan_does_not_take_a_stage_selection(run_kite, tmp_path: Path) -> None:
    make_project(tmp_path)
    assert run_kite("plan", "--out", "plan.json").code == 0
    assert run_kite("apply", "plan.json", "--stage", "clean").code == 64


def test_a_plan_is_refused_when_an_input_it_left_alone_changed(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    calls(log)
    (tmp_path / "data/raw/2024-01-01.csv").write_text("edited before planning\n")
    assert run_kite("plan", "--out", "plan.json", env=env).code == 0
    (tmp_path / "data/raw/2024-01-02.csv").write_text("edited after planning\n")
    refused = run_kite("apply", "plan.json", env=env)
    assert refused.code == 3, refused.stderr
    assert "raw/ changed since the plan was made" in refused.stderr
    assert "kite plan --out" in refused.stderr
    assert calls(log) == []
    (tmp_path / "data/raw/2024-01-02.csv").unlink()  # a removed file is a change too
    assert run_kite("plan", "--out", "plan.json", env=env).code == 0
    (tmp_path / "data/raw/2024-01-09.csv").write_text("new after planning\n")
    assert run_kite("apply", "plan.json", env=env).code == 3
    assert calls(log) == []


def test_a_plan_is_refused_when_a_stage_s_code_changed(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    assert run_kite("plan", "--out", "plan.json", env=env).code == 0
    step = tmp_path / "step.py"
    step.write_text(step.read_text() + "# edited after planning\n")
    refused = run_kite("apply", "plan.json", env=env)
    assert refused.code == 3, refused.stderr
    assert "the code of stage clean changed since the plan was made" in refused.stderr
    assert calls(log) == []


def test_a_plan_after_a_failed_upstream_run_says_known_after_apply(
    run_kite, tmp_path: Path
) -> None:
    log = make_project(tmp_path)
    failing = {"CALLS_LOG": str(log), "STEP_FAIL": "2024-01-01.csv"}
    assert run_kite("apply", "--stage", "clean", env=failing).code == 1  # one datum failed
    planned = run_kite("plan", "--json", env={"CALLS_LOG": str(log)})
    stages = {s["name"]: s for s in json.loads(planned.stdout)["stages"]}
    assert stages["size"]["known_after_apply"] == ["clean: 1 datum that failed before"]
    shown = run_kite("plan", env={"CALLS_LOG": str(log)}).stdout
    assert "size: 2 to run; more known after apply (clean: 1 datum that failed before)" in shown


def test_a_saved_plan_of_inputs_with_a_kiteignore_applies(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    (tmp_path / "data/raw/.kiteignore").write_text("*.tmp\n")
    (tmp_path / "data/raw/scratch.tmp").write_text("not data\n")
    env = {"CALLS_LOG": str(log)}
    assert run_kite("plan", "--out", "plan.json", env=env).code == 0
    applied = run_kite("apply", "plan.json", env=env)
    assert applied.code == 0, applied.stderr
    assert len(calls(log)) == len(DAYS) * 2 + 1
