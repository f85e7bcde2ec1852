"""`kite plan` as a user runs it: text, --json, --out, --stage, --env, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from kitecli.plan import planfile, planning
from kitecli.scan import folders
from kitecli.spec import loader
from tests.conftest import write
from tests.plan_support import World
from tests.test_plan import PIPELINE, RAW, produce

MATRIX = """\
kite: 1
environments:
  prod: {data: ./data}
  dev: {data: ./data-dev}
stages:
  train:
    matrix: {model: [a, b]}
    inputs: {rows: {path: rows/, each: "{n}.csv"}}
    command: [echo, "{{ matrix.model }}"]
    outputs: {out: "models/{{ matrix.model }}/"}
  score:
    inputs: {m: models/}
    command: [echo]
    outputs: {out: scores/}
"""


def weather(root: Path, extra: dict[str, str] | None = None) -> None:
    write(root, {"pipeline.yaml": PIPELINE.replace("RUNS", ""), **RAW, **(extra or {})})


def test_first_plan_text(run_kite, tmp_path: Path) -> None:
    weather(tmp_path)
    result = run_kite("plan")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "clean: 4 to run"
    assert lines[1] == "  + run       date=2024-01-01 station=A"
    assert lines[2] == "      new input: raw/2024-01-01/A.csv"
    assert "monthly: known after apply (clean: 4 new datums)" in lines
    assert "Plan: 4 to run, 0 from cache, 0 to delete, 0 unchanged." in lines
    assert "`kite apply` will plan again" in result.stdout


def test_detailed_exitcode(run_kite, tmp_path: Path) -> None:
    weather(tmp_path)
    assert run_kite("plan", "--detailed-exitcode").code == 2
    empty = tmp_path / "empty"
    write(empty, {"pipeline.yaml": PIPELINE.replace("RUNS", ""), "steps/clean.py": ""})
    missing = run_kite("plan", "--detailed-exitcode", cwd=empty)  # no input folders at all
    assert missing.code == 3, missing.stdout
    for folder in ("raw", "ref/stations"):  # there, and empty
        (empty / "data" / folder).mkdir(parents=True)
    result = run_kite("plan", "--detailed-exitcode", cwd=empty)
    assert result.code == 0, result.stderr
    assert "No changes" in result.stdout
    assert "Plan: 0 to run, 0 from cache, 0 to delete, 0 unchanged." in result.stdout


def test_json_validates_and_has_the_issue_form(run_kite, tmp_path: Path) -> None:
    weather(tmp_path)
    result = run_kite("plan", "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    Draft202012Validator(planfile.schema()).validate(data)
    assert data["kite_plan"] == 1
    assert data["env"] == "prod"
    assert data["base"] is None
    assert data["summary"]["run"] == 4
    assert data["stages"][0]["datums"][0] == {
        "key": {"date": "2024-01-01", "station": "A"},
        "action": "run",
        "reasons": ["new input: raw/2024-01-01/A.csv"],
    }


def test_out_saves_a_plan_that_loads(run_kite, tmp_path: Path) -> None:
    weather(tmp_path)
    result = run_kite("plan", "--out", "plan.json")
    assert result.code == 0, result.stderr
    assert "Saved the plan to plan.json" in result.stdout
    assert "will plan again" not in result.stdout
    saved = planfile.load(tmp_path / "plan.json")
    assert saved.summary["run"] == 4
    assert all(d.fingerprint for d in saved.stage("clean").datums)


def test_out_into_a_missing_folder_is_an_error(run_kite, tmp_path: Path) -> None:
    weather(tmp_path)
    result = run_kite("plan", "--out", "no/such/plan.json")
    assert result.code == 3
    assert "cannot write the plan to no/such/plan.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_only_twenty_datums_per_stage_unless_full(run_kite, tmp_path: Path) -> None:
    weather(tmp_path, {f"data/raw/2024-03-01/S{i:02}.csv": str(i) for i in range(30)})
    short = run_kite("plan").stdout
    assert short.count("  + run ") == 20
    assert "... and 14 more (kite plan --full lists them all)" in short
    assert run_kite("plan", "--full").stdout.count("  + run ") == 34


def test_stage_selects_every_matrix_variant(run_kite, tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": MATRIX, "data/rows/1.csv": "1"})
    result = run_kite("plan", "--json", "--stage", "train")
    assert result.code == 0, result.stderr
    names = [s["name"] for s in json.loads(result.stdout)["stages"]]
    assert names == ["train[model=a]", "train[model=b]"]
    down = json.loads(run_kite("plan", "--json", "--stage", "train", "--downstream").stdout)
    assert [s["name"] for s in down["stages"]][-1] == "score"


def test_unknown_stage_or_environment_is_a_usage_error(run_kite, tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": MATRIX})
    bad = run_kite("plan", "--stage", "trian")
    assert bad.code == 64
    assert "did you mean 'train'?" in bad.stderr
    env = run_kite("plan", env={"KITE_ENV": "staging"})
    assert env.code == 64
    assert "KITE_ENV" in env.stderr
    assert "prod, dev" in env.stderr


def test_kite_env_picks_the_environment(run_kite, tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": MATRIX, "data/rows/1.csv": "1"})
    (tmp_path / "data-dev/rows").mkdir(parents=True)  # dev's input is there, and empty
    default = json.loads(run_kite("plan", "--json").stdout)
    assert (default["env"], default["summary"]["run"]) == ("prod", 2)
    dev = json.loads(run_kite("plan", "--json", env={"KITE_ENV": "dev"}).stdout)
    assert (dev["env"], dev["summary"]["run"]) == ("dev", 0)
    flag = json.loads(run_kite("plan", "--json", "--env", "prod", env={"KITE_ENV": "dev"}).stdout)
    assert flag["env"] == "prod"


def test_planning_reads_the_committed_state_through_its_reader(tmp_path: Path) -> None:
    weather(tmp_path, {"data/unrelated/huge.bin": "not scanned"})
    world = World(loader.load(tmp_path / "pipeline.yaml"), produce, root=tmp_path)
    world.apply()
    write(tmp_path, {"data/raw/2024-01-02/A.csv": "new"})
    planned = planning.plan(
        tmp_path / "pipeline.yaml", state_reader=lambda env: world.state, run_cache=world.cache.get
    )
    assert planned.env.name == "prod"
    assert planned.plan.summary["run"] == 1
    assert planned.plan.summary["unchanged"] == 3 + 1
    assert planned.plan.base == world.state.commit


def test_scan_data_holds_only_the_pipelines_folders(tmp_path: Path) -> None:
    write(tmp_path, {"raw/a/1.csv": "1", "raw/b/2.csv": "2", "other/x": "x"})
    (tmp_path / "empty").mkdir()
    data = folders.scan_data(tmp_path, ["raw/a", "raw", "empty", "missing"])
    assert sorted(data.files) == ["raw/a/1.csv", "raw/b/2.csv"]
    assert "empty" in data.trees
    assert "missing" not in data.trees
    assert data.subtree("raw").digest == folders.manifest.scan(tmp_path / "raw").digest


def test_grafted_folders_give_the_digests_of_a_full_scan(tmp_path: Path) -> None:
    write(tmp_path, {"raw/a/1.csv": "1", "ref/stations/s.csv": "s", "ref/stations/t/u": "u"})
    (tmp_path / "raw/empty").mkdir()
    data = folders.scan_data(tmp_path, ["ref/stations", "raw"])
    full = folders.manifest.scan(tmp_path)
    assert data.digest == full.digest
    assert data.trees == full.trees
    assert data.files == full.files


def test_warnings_go_to_stderr(run_kite, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": """\
kite: 1
stages:
  join:
    inputs:
      raw: {path: raw/, each: "{station}.csv"}
      meta: {path: meta/, each: "{station}.json"}
    command: [echo]
    outputs: {out: out/}
""",
            "raw/A.csv": "a",
            "raw/B.csv": "b",
            "meta/A.json": "{}",
        },
    )
    result = run_kite("plan", "--json")
    assert result.code == 0, result.stderr
    assert "warning: stage join: joining input meta on station: 1 key without" in result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["run"] == 1
    assert data["warnings"] == [result.stderr.split("warning: ", 1)[1].strip()]
