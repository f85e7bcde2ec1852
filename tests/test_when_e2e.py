"""`when:` and `--param` through the `kite` command: skips explained in the plan and recorded
in the run, skipped datums' outputs gone downstream, params typed, recorded, fingerprinted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.e2e import STEP, calls
from tests.helpers import write

PIPELINE = """\
kite: 1
name: when
params: {{region: eu, skip_day: none, limit: 3}}
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  clean:
    inputs:
      raw: {{path: raw/, each: "{{day}}.csv"}}
    when: datum.day != params.skip_day
    code: [step.py]
    command: ["{python}", step.py, copy, clean, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"]
    outputs: {{clean: clean/}}
  size:
    inputs:
      clean: {{path: clean/, each: "{{day}}.csv"}}
    code: [step.py]
    command: ["{python}", step.py, sum, size, "{{{{ inputs.clean }}}}", "{{{{ outputs.size }}}}"]
    outputs: {{size: size/}}
  total:
    inputs:
      size: size/
    when: params.region == "eu"
    code: [step.py]
    command: ["{python}", step.py, sum, total, "{{{{ inputs.size }}}}", "{{{{ outputs.total }}}}"]
    outputs: {{total: total/}}
"""
DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")


def project(root: Path, pipeline: str = PIPELINE) -> dict[str, str]:
    write(root, {"pipeline.yaml": pipeline.format(python=sys.executable), "step.py": STEP})
    for day in DAYS:
        write(root, {f"data/raw/{day}.csv": f"day,{day}\n"})
    return {"CALLS_LOG": str(root / "calls.log")}


def stages(lines: list[str]) -> list[str]:
    return sorted(line.split(" ", 1)[0] + " " + line.split(" ", 1)[1] for line in lines)


def test_true_runs_and_false_skips_the_stage_and_removes_its_outputs(
    run_kite, tmp_path: Path
) -> None:
    env = project(tmp_path)
    assert run_kite("apply", env=env).code == 0
    assert len(calls(tmp_path / "calls.log")) == 7  # when true: everything ran
    assert (tmp_path / "data/total/all.txt").read_text() == "9\n"

    plan = run_kite("plan", "--param", "region=us")
    assert plan.code == 0, plan.stderr
    assert 'total: 1 skipped\n  skip: when params.region == "eu" is false\n' in plan.stdout
    assert "1 skipped" in plan.stdout.splitlines()[-4]
    data = json.loads(run_kite("plan", "--param", "region=us", "--json").stdout)
    (total,) = [stage for stage in data["stages"] if stage["name"] == "total"]
    assert total["skip"] == 'when params.region == "eu" is false'
    assert data["params"] == {"region": "us"}
    applied = run_kite("apply", "--param", "region=us", env=env)
    assert applied.code == 0, applied.stderr
    assert calls(tmp_path / "calls.log") == []
    assert not (tmp_path / "data/total").exists()  # what the skipped datum owned is gone
    record = json.loads(run_kite("show", "last", "--json").stdout)
    assert record["params"] == {"region": "us"}
    assert [(a["stage"], a["status"], a["reason"]) for a in record["attempts"]] == [
        ("total", "skipped", 'when params.region == "eu" is false')
    ]
    assert 'when params.region == "eu" is false' in run_kite("show", "last").stdout
    # no --param: the pipeline's own value again, and the stage runs
    back = run_kite("plan")
    assert "last attempt was skipped" in back.stdout
    assert run_kite("apply", env=env).code == 0
    assert (tmp_path / "data/total/all.txt").read_text() == "9\n"


def test_a_per_datum_when_skips_that_datum_and_downstream_never_sees_it(
    run_kite, tmp_path: Path
) -> None:
    env = project(tmp_path)
    assert run_kite("apply", env=env).code == 0
    calls(tmp_path / "calls.log")
    plan = run_kite("plan", "--param", "skip_day=2024-01-02")
    assert "  / skip      day=2024-01-02\n      when datum.day != params.skip_day is false\n" in (
        plan.stdout
    )
    assert run_kite("apply", "--param", "skip_day=2024-01-02", env=env).code == 0
    ran = calls(tmp_path / "calls.log")
    assert ran == ["total 2024-01-01.txt,2024-01-03.txt"]
    assert sorted(p.name for p in (tmp_path / "data/clean").iterdir()) == [
        "2024-01-01.csv",
        "2024-01-03.csv",
    ]
    assert not (tmp_path / "data/size/2024-01-02.txt").exists()
    assert (tmp_path / "data/total/all.txt").read_text() == "6\n"
    record = json.loads(run_kite("show", "last", "--json").stdout)
    skipped = [(a["stage"], a["key"]) for a in record["attempts"] if a["status"] == "skipped"]
    assert skipped == [("clean", {"day": "2024-01-02"})]
    assert record["counts"]["skipped"] == 1


def test_a_param_used_by_a_stage_is_in_its_fingerprint_only(run_kite, tmp_path: Path) -> None:
    pipeline = PIPELINE.replace(
        '"{{{{ outputs.size }}}}"]', '"{{{{ outputs.size }}}}", "{{{{ params.limit }}}}"]'
    )
    env = project(tmp_path, pipeline)
    assert run_kite("apply", env=env).code == 0
    calls(tmp_path / "calls.log")
    plan = run_kite("plan", "--param", "limit=4")
    assert "size: 3 to run" in plan.stdout
    assert "param changed: limit" in plan.stdout
    assert "clean: 3 unchanged" in plan.stdout
    assert run_kite("apply", "--param", "limit=4", env=env).code == 0
    assert [line.split()[0] for line in calls(tmp_path / "calls.log")] == ["size"] * 3


def test_wrong_params_are_usage_errors(run_kite, tmp_path: Path) -> None:
    project(tmp_path)
    unknown = run_kite("apply", "--param", "regoin=eu")
    assert unknown.code == 64
    assert "error: --param regoin: no param named 'regoin'" in unknown.stderr
    assert "hint: did you mean 'region'?" in unknown.stderr
    typed = run_kite("plan", "--param", "limit=many")
    assert typed.code == 64
    assert "limit is an int in pipeline.yaml, and 'many' is not" in typed.stderr
    assert not (tmp_path / "data/clean").exists()


def test_a_saved_plan_keeps_its_params(run_kite, tmp_path: Path) -> None:
    env = project(tmp_path)
    assert run_kite("plan", "--param", "region=us", "--out", "plan.json").code == 0
    assert json.loads((tmp_path / "plan.json").read_text())["params"] == {"region": "us"}
    applied = run_kite("apply", "plan.json", env=env)
    assert applied.code == 0, applied.stderr
    assert not (tmp_path / "data/total").exists()
    assert json.loads(run_kite("show", "last", "--json").stdout)["params"] == {"region": "us"}
    both = run_kite("apply", "plan.json", "--param", "region=eu")
    assert both.code == 64


def test_an_expression_failing_at_run_time_names_stage_expression_and_datum(
    run_kite, tmp_path: Path
) -> None:
    project(tmp_path, PIPELINE.replace("datum.day != params.skip_day", "datum.dya != 'x'"))
    result = run_kite("plan")
    assert result.code == 3
    assert (
        "error: stage clean, datum day=2024-01-01: `when: datum.dya != 'x'` failed: "
        "no such key: 'dya'"
    ) in result.stderr
    assert "hint: " in result.stderr


def test_a_value_cannot_change_the_meaning_of_an_expression(run_kite, tmp_path: Path) -> None:
    """Argo #3611 in reverse: a value with quotes, hyphens or operators stays a value."""
    env = project(tmp_path)
    sneaky = 'region=eu" || "a" == "a'
    plan = run_kite("plan", "--param", sneaky)
    assert 'skip: when params.region == "eu" is false' in plan.stdout
    assert run_kite("apply", "--param", sneaky, env=env).code == 0
    assert not (tmp_path / "data/total").exists()
    pipeline = (tmp_path / "pipeline.yaml").read_text()
    (tmp_path / "pipeline.yaml").write_text(pipeline.replace('== "eu"', '== "eu-west-1"'))
    hyphen = run_kite("plan", "--param", "region=eu-west-1")
    assert "total: 1 to run" in hyphen.stdout
