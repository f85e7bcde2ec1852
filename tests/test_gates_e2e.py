"""Acceptance gates through the `kite` command: each check passing and failing, quarantine,
previous outputs kept, nothing downstream of a rejection running."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.e2e import calls
from tests.helpers import write

# make.py CHECK IN OUT: writes what passes CHECK when the datum's input says "good",
# what fails it when it says "bad"; logs each execution to calls.log.
MAKE = """\
import json, os, sys
from pathlib import Path

check, src, out = sys.argv[1:4]
(inp,) = [p for p in Path(src).rglob("*") if p.is_file()]
good = inp.read_text().strip() == "good"
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(f"{check} {inp.name}\\n")
made = {
    "min_files": {"a.csv": "x", "b.csv": "x"} if good else {"a.csv": "x"},
    "max_files": {"a.csv": "x"} if good else {"a.csv": "x", "b.csv": "x", "c.csv": "x"},
    "max_bytes": {"a.csv": "x" * 5} if good else {"a.csv": "x" * 50},
    "json_schema": {
        "a.json": '{"v": 1}',
        "b.jsonl": '{"v": 1}\\n{"v": %s}\\n' % ("2" if good else '"two"'),
        "c.yaml": "v: 3\\n",
    },
    "rules": {"a.csv": "x"} if good else {"a.txt": "x"},
    "command": {"a.csv": "ok" if good else "BAD ROW"},
    "appended": {"a.csv": "ok" if good else "BAD ROW"},
}[check]
for name, text in made.items():
    Path(out, inp.stem + "-" + name).write_text(text)
"""

CHECK = """\
import sys
from pathlib import Path

folder = Path(sys.argv[-1])
bad = [p.name for p in folder.iterdir() if "BAD" in p.read_text()]
if bad:
    print("bad rows in", ", ".join(bad))
    sys.exit(2)
"""

GATES = {
    "min_files": "{min_files: 2}",
    "max_files": "{max_files: 2}",
    "max_bytes": "{max_bytes: 10}",
    "json_schema": "{json_schema: schemas/row.json}",
    "rules": """{rules: ["count >= 1", "files.all(f, f.path.endsWith('.csv'))"]}""",
    "command": """{command: ["{python}", check.py, --dir, "{{{{ outputs.out }}}}"]}""",
    "appended": """{command: ["{python}", check.py]}""",
}
FAILS = {
    "min_files": "accept.min_files: 1 file written, at least 2 required",
    "max_files": "accept.max_files: 3 files written, at most 2 allowed",
    "max_bytes": "accept.max_bytes: 50 bytes written, at most 10 allowed",
    "json_schema": "accept.json_schema: b-b.jsonl line 2 at $.v: 'two' is not of type 'integer'",
    "rules": "accept.rules[1]: `files.all(f, f.path.endsWith('.csv'))` is false",
    "command": "accept.command: ",
    "appended": "accept.command: ",
}


def gated_project(root: Path) -> Path:
    stages = "".join(
        f"""  {check}:
    inputs: {{raw: {{path: raw/, each: "{{name}}.txt"}}}}
    command: ["{{python}}", make.py, {check}, "{{{{ inputs.raw }}}}", "{{{{ outputs.out }}}}"]
    outputs:
      out: {{path: {check}/, accept: {gate}}}
"""
        for check, gate in GATES.items()
    )
    pipeline = (
        "kite: 1\nname: gates\nenvironments:\n"
        "  dev: {data: ./data, metadata: ./meta, cache: ./cache}\nstages:\n" + stages
    ).replace("{python}", sys.executable)
    schema = {"type": "object", "required": ["v"], "properties": {"v": {"type": "integer"}}}
    write(
        root,
        {
            "pipeline.yaml": pipeline.replace("{{{{", "{{").replace("}}}}", "}}"),
            "make.py": MAKE,
            "check.py": CHECK,
            "schemas/row.json": json.dumps(schema),
            "data/raw/a.txt": "good\n",
            "data/raw/b.txt": "good\n",
        },
    )
    return root / "calls.log"


def test_each_check_passes_then_rejects_into_quarantine(run_kite, tmp_path: Path) -> None:
    log = gated_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    first = run_kite("apply", env=env)
    assert first.code == 0, first.stderr
    assert len(calls(log)) == 2 * len(GATES)
    before = {c: sorted(p.name for p in (tmp_path / "data" / c).iterdir()) for c in GATES}
    assert before["min_files"] == ["a-a.csv", "a-b.csv", "b-a.csv", "b-b.csv"]

    (tmp_path / "data/raw/b.txt").write_text("bad\n")
    plan = run_kite("plan")
    assert "  gate min_files/: min_files 2" in plan.stdout
    assert "  gate appended/: command " in plan.stdout
    data = json.loads(run_kite("plan", "--json").stdout)
    gates = {stage["name"]: stage["gates"] for stage in data["stages"]}
    assert gates["max_bytes"] == ["max_bytes/: max_bytes 10"]
    second = run_kite("apply", env=env)
    assert second.code == 1, second.stderr
    assert sorted(calls(log)) == sorted(f"{check} b.txt" for check in GATES)
    record = json.loads(run_kite("show", "last", "--json").stdout)
    shown = run_kite("show", "last").stdout
    for check, message in FAILS.items():
        (attempt,) = [a for a in record["attempts"] if a["stage"] == check]
        assert attempt["status"] == "rejected"
        assert attempt["key"] == {"name": "b"}
        assert f"output out: {message}" in attempt["reason"]
        folder = Path(".kite/quarantine", record["id"], check, "name=b")
        assert f"(outputs kept in {folder}/)" in attempt["reason"]
        assert f"output out: {message}" in shown
        kept = tmp_path / folder
        assert (kept / "out").is_dir()
        why = json.loads((kept / "rejected.json").read_text())
        assert (why["datum"], why["output"]) == ({"name": "b"}, "out")
        assert message.startswith(f"accept.{why['check']}: {why['message']}"[: len(message)])
        # the previous, accepted outputs are still in place; the rejected ones are not
        assert sorted(p.name for p in (tmp_path / "data" / check).iterdir()) == before[check]
    assert "bad rows in b-a.csv" in shown
    assert (tmp_path / f".kite/quarantine/{record['id']}/max_bytes/name=b/out/b-a.csv").stat()
    assert record["counts"] == {"rejected": len(GATES)}

    again = run_kite("plan")
    assert "last attempt rejected" in again.stdout
    # back to the accepted input: its accepted outputs come from the run cache
    (tmp_path / "data/raw/b.txt").write_text("good\n")
    assert run_kite("apply", env=env).code == 0
    assert calls(log) == []
    after = {c: sorted(p.name for p in (tmp_path / "data" / c).iterdir()) for c in GATES}
    assert after == before


def test_a_new_schema_content_reruns_the_stage(run_kite, tmp_path: Path) -> None:
    log = gated_project(tmp_path)
    env = {"CALLS_LOG": str(log)}
    first = run_kite("apply", "--stage", "json_schema", env=env)
    assert first.code == 0, first.stderr  # all of it: a rare failure here is not yet understood
    calls(log)
    schema = {"type": "object", "required": ["v"], "properties": {"v": {"maximum": 2}}}
    (tmp_path / "schemas/row.json").write_text(json.dumps(schema))
    plan = run_kite("plan", "--stage", "json_schema")
    assert "accept schema changed: schemas/row.json" in plan.stdout
    result = run_kite("apply", "--stage", "json_schema", env=env)
    assert result.code == 1
    shown = run_kite("show", "last").stdout
    assert "c.yaml at $.v: 3 is greater than the maximum of 2" in shown


# -- downstream of a rejection --------------------------------------------------------
DOWNSTREAM = """\
kite: 1
name: blocked
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  clean:
    inputs: {{raw: {{path: raw/, each: "{{day}}.csv"}}}}
    code: [step.py]
    command: ["{python}", step.py, copy, clean, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"]
    outputs:
      clean: {{path: clean/, accept: {{rules: ["files.all(f, f.size < 20)"]}}}}
  size:
    inputs: {{clean: {{path: clean/, each: "{{day}}.csv"}}}}
    code: [step.py]
    command: ["{python}", step.py, sum, size, "{{{{ inputs.clean }}}}", "{{{{ outputs.size }}}}"]
    outputs: {{size: size/}}
  total:
    inputs: {{size: size/}}
    code: [step.py]
    command: ["{python}", step.py, sum, total, "{{{{ inputs.size }}}}", "{{{{ outputs.total }}}}"]
    outputs: {{total: total/}}
"""


def test_nothing_downstream_of_a_rejected_datum_runs(run_kite, tmp_path: Path) -> None:
    from tests.e2e import STEP

    days = ("2024-01-01", "2024-01-02", "2024-01-03")
    write(tmp_path, {"pipeline.yaml": DOWNSTREAM.format(python=sys.executable), "step.py": STEP})
    for day in days:
        write(tmp_path, {f"data/raw/{day}.csv": f"d,{day}\n"})
    log = tmp_path / "calls.log"
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    calls(log)
    total = (tmp_path / "data/total/all.txt").read_text()
    (tmp_path / "data/raw/2024-01-01.csv").write_text("d,1\n")  # small: accepted
    (tmp_path / "data/raw/2024-01-02.csv").write_text("d," + "9" * 40 + "\n")  # too big
    result = run_kite("apply", env=env)
    assert result.code == 1
    ran = calls(log)
    assert sorted(line for line in ran if line.startswith("clean")) == [
        "clean 2024-01-01.csv",
        "clean 2024-01-02.csv",
    ]
    # size runs for the accepted day only; total, which reads all of size/, not at all
    assert [line for line in ran if not line.startswith("clean")] == ["size 2024-01-01.csv"]
    assert (tmp_path / "data/clean/2024-01-02.csv").read_text() == "D,2024-01-02\n"
    assert (tmp_path / "data/total/all.txt").read_text() == total
    record = json.loads(run_kite("show", "last", "--json").stdout)
    blocked = [a for a in record["attempts"] if a["status"] == "blocked"]
    assert [(a["stage"], a["reason"]) for a in blocked] == [
        ("total", "upstream clean day=2024-01-02 rejected")
    ]
    assert record["status"] == "failed"
    assert record["counts"] == {"blocked": 1, "rejected": 1, "succeeded": 2}
    # once the input is fixed, the held-back work runs
    (tmp_path / "data/raw/2024-01-02.csv").write_text("d,2\n")
    assert run_kite("apply", env=env).code == 0
    assert sorted(line.split()[0] for line in calls(log)) == ["clean", "size", "total"]
