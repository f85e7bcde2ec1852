"""A 2x2 `matrix:` through the `kite` command: variants are stages of their own in the graph,
the plan, the run and the history; `--stage train` means all of them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers import write

# record.py OUT ARGS...: writes its arguments and KITE_PARAM_* variables to OUT/run.json.
RECORD = """\
import json, os, sys
from pathlib import Path

out, *args = sys.argv[1:]
seen = {k: v for k, v in os.environ.items() if k.startswith("KITE_PARAM_")}
Path(out, "run.json").write_text(json.dumps({"args": args, "env": seen}))
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(" ".join(args[:2]) + "\\n")
print("trained", *args)
"""

PIPELINE = """\
kite: 1
name: matrix
params: {{alpha: 0.5, note: first}}
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  prep:
    inputs: {{raw: raw/}}
    command: ["{python}", record.py, "{{{{ outputs.prep }}}}", prep]
    outputs: {{prep: prep/}}
  train:
    matrix: {{model: [a, b], alpha: [0.1, 1]}}
    inputs: {{prep: prep/}}
    command: ["{python}", record.py, "{{{{ outputs.model }}}}", "{{{{ matrix.model }}}}",
              "{{{{ params.alpha }}}}", "{{{{ params.note }}}}"]
    outputs: {{model: "models/{{{{ matrix.model }}}}-{{{{ matrix.alpha }}}}/"}}
"""
VARIANTS = (
    "train[model=a,alpha=0.1]",
    "train[model=a,alpha=1]",
    "train[model=b,alpha=0.1]",
    "train[model=b,alpha=1]",
)


def project(root: Path) -> dict[str, str]:
    text = PIPELINE.format(python=sys.executable)
    write(root, {"pipeline.yaml": text, "record.py": RECORD, "data/raw/x.csv": "x\n"})
    return {"CALLS_LOG": str(root / "calls.log")}


def ran(root: Path) -> list[str]:
    log = root / "calls.log"
    lines = sorted(log.read_text().splitlines()) if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_a_2x2_matrix_is_four_stages_everywhere(run_kite, tmp_path: Path) -> None:
    env = project(tmp_path)
    graph = run_kite("graph")
    assert graph.code == 0, graph.stderr
    for variant, folder in zip(VARIANTS, ("a-0.1", "a-1", "b-0.1", "b-1"), strict=True):
        assert f"{variant}: prep/ -> models/{folder}/  after prep" in graph.stdout

    plan = run_kite("plan", "--stage", "train")
    assert plan.code == 0, plan.stderr
    named = [line.split(":")[0] for line in plan.stdout.splitlines() if line.startswith("train")]
    assert named == list(VARIANTS)
    assert "prep:" not in plan.stdout

    assert run_kite("apply", env=env).code == 0
    assert ran(tmp_path) == ["a 0.1", "a 1", "b 0.1", "b 1", "prep"]
    made = json.loads((tmp_path / "data/models/b-0.1/run.json").read_text())
    assert made["args"] == ["b", "0.1", "first"]
    assert made["env"] == {"KITE_PARAM_ALPHA": "0.1", "KITE_PARAM_NOTE": "first"}

    record = json.loads(run_kite("show", "last", "--json").stdout)
    assert sorted(a["stage"] for a in record["attempts"]) == ["prep", *VARIANTS]
    shown = run_kite("show", "last").stdout
    assert all(f"{variant}:\n" in shown for variant in VARIANTS)
    assert run_kite("log", "--stage", "train").stdout.count(record["id"]) == 1
    logs = run_kite("logs", "last", "train").stdout
    assert logs.count("==> train[") == 4
    assert "trained a 1 first" in logs


def test_apply_stage_runs_all_variants_and_only_new_variants_run(run_kite, tmp_path: Path) -> None:
    env = project(tmp_path)
    assert run_kite("apply", env=env).code == 0
    ran(tmp_path)
    changed = run_kite("apply", "--stage", "train", "--param", "note=second", env=env)
    assert changed.code == 0, changed.stderr
    assert ran(tmp_path) == ["a 0.1", "a 1", "b 0.1", "b 1"]
    assert json.loads((tmp_path / "data/models/a-1/run.json").read_text())["args"][2] == "second"

    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("alpha: [0.1, 1]", "alpha: [0.1, 1, 10]"))
    plan = run_kite("plan", "--stage", "train", "--param", "note=second")
    assert "train[model=a,alpha=10]: 1 to run" in plan.stdout
    assert "train[model=a,alpha=1]: 1 unchanged" in plan.stdout
    assert run_kite("apply", "--stage", "train", "--param", "note=second", env=env).code == 0
    assert ran(tmp_path) == ["a 10", "b 10"]
    assert (tmp_path / "data/models/b-10/run.json").is_file()
