"""Datums flow across stages (run/flow.py): a downstream datum starts as soon as the upstream
datums it reads have committed, not when its whole upstream stage has; results, records and
kill -9 recovery are those of a run stage by stage."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers import kite, start, write

# step.py STAGE IN OUT: one line per execution to calls.log; `a` sleeps when its input's name
# is in STEP_SLOW, and writes DAY.csv as DAY/DAY.csv; `b` writes each of its files, upper-cased,
# where it read it; `total` writes one sum
STEP = """\
import os, sys, time
from pathlib import Path

stage, src, out = sys.argv[1:4]
files = sorted(p for p in Path(src).rglob("*") if p.is_file())
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(stage + " " + ",".join(p.relative_to(src).as_posix() for p in files) + "\\n")
if stage == "a" and any(p.name in os.environ.get("STEP_SLOW", "").split(",") for p in files):
    time.sleep(float(os.environ.get("STEP_SLEEP", "3")))
if stage == "total":
    Path(out, "all.txt").write_text(str(sum(len(p.read_text()) for p in files)) + "\\n")
for p in files if stage != "total" else ():
    rel = Path(p.stem, p.name) if stage == "a" else p.relative_to(src)
    Path(out, rel).parent.mkdir(parents=True, exist_ok=True)
    Path(out, rel).write_text(p.read_text().upper() + stage + "\\n")
"""

PIPELINE = """\
kite: 1
name: flow
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  a:
    inputs: {{raw: {{path: raw/, each: "{{day}}.csv"}}}}
    code: [step.py]
    command: ["{python}", step.py, a, "{{{{ inputs.raw }}}}", "{{{{ outputs.a }}}}"]
    outputs: {{a: a/}}
  b:
    inputs: {{a: {{path: a/, each: "{{day}}/*.csv"}}}}
    code: [step.py]
    command: ["{python}", step.py, b, "{{{{ inputs.a }}}}", "{{{{ outputs.b }}}}"]
    outputs: {{b: b/}}
  total:
    inputs: {{b: b/}}
    code: [step.py]
    command: ["{python}", step.py, total, "{{{{ inputs.b }}}}", "{{{{ outputs.total }}}}"]
    outputs: {{total: total/}}
"""

DAYS = ("d1", "d2", "d3", "d4")
SLOW = "d1.csv"


def project(root: Path) -> dict[str, str]:
    """Write the project; the environment its steps need."""
    write(root, {"pipeline.yaml": PIPELINE.format(python=sys.executable), "step.py": STEP})
    write(root / "data", {f"raw/{day}.csv": f"{day}\n" for day in DAYS})
    return {"CALLS_LOG": str(root / "calls.log"), "STEP_SLOW": SLOW}


def last_run(root: Path) -> dict[str, Any]:
    shown = kite("show", "last", "--json", cwd=root)
    assert shown.code == 0, shown.stderr
    record: dict[str, Any] = json.loads(shown.stdout)
    return record


def outputs(root: Path) -> dict[str, bytes]:
    data = root / "data"
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def datums(record: dict[str, Any]) -> list[tuple[str, str, str, str, int]]:
    """What the record says of each datum, stage by stage in the record's order."""
    found = [
        (
            a["stage"],
            json.dumps(a["key"], sort_keys=True),
            a["status"],
            a["fingerprint"],
            a["attempt"],
        )
        for a in record["attempts"]
    ]
    stages = list(dict.fromkeys(a["stage"] for a in record["attempts"]))
    return sorted(found, key=lambda f: (stages.index(f[0]), f[1]))


def test_a_downstream_datum_starts_before_its_upstream_stage_ends(tmp_path: Path) -> None:
    env = project(tmp_path)
    applied = kite("apply", "--parallel", "4", cwd=tmp_path, env=env)
    assert applied.code == 0, applied.stderr
    attempts = last_run(tmp_path)["attempts"]
    ran = {a["stage"]: [] for a in attempts}
    for a in attempts:
        ran[a["stage"]].append(a)
    assert list(ran) == ["a", "b", "total"]  # the record reads stage by stage
    slowest = max(a["ended"] for a in ran["a"])
    first_b = min(a["started"] for a in ran["b"])
    assert first_b < slowest - 1.0, "b waited for all of a"
    fast_b = [a for a in ran["b"] if a["key"] != {"day": "d1"}]
    assert all(a["ended"] < slowest for a in fast_b)  # the fast chains were done meanwhile
    slow_b = next(a for a in ran["b"] if a["key"] == {"day": "d1"})
    assert slow_b["started"] >= slowest  # d1 of b waits for d1 of a
    # a whole-directory input waits for every datum of the stage it reads
    assert ran["total"][0]["started"] >= max(a["ended"] for a in ran["b"])
    assert (tmp_path / "data/b/d1/d1.csv").read_text() == "D1\nA\nb\n"


def test_results_and_records_are_those_of_a_run_stage_by_stage(tmp_path: Path) -> None:
    flowing, serial = tmp_path / "flowing", tmp_path / "serial"
    records = {}
    for root, parallel in ((flowing, "4"), (serial, "1")):
        env = project(root)
        applied = kite("apply", "--parallel", parallel, cwd=root, env=env)
        assert applied.code == 0, applied.stderr
        records[root] = last_run(root)
        assert kite("plan", "--detailed-exitcode", cwd=root, env=env).code == 0
    assert outputs(flowing) == outputs(serial)
    assert datums(records[flowing]) == datums(records[serial])
    assert records[flowing]["counts"] == records[serial]["counts"] == {"succeeded": 9}
    assert [a["stage"] for a in records[flowing]["attempts"]] == [
        a["stage"] for a in records[serial]["attempts"]
    ]
    calls = (flowing / "calls.log").read_text().splitlines()
    assert len(calls) == 9  # every datum ran once: nothing early was thrown away


def test_an_early_datum_whose_inputs_change_runs_again_as_its_stage_plans(tmp_path: Path) -> None:
    """a's d1 also writes a file of day d2, which b's d2 reads: b's d2, started early (a's d2
    had committed), is not used, and runs again on what a finally wrote."""
    env = project(tmp_path)
    step = (tmp_path / "step.py").read_text()
    step += (
        "if stage == 'a' and any(p.name == 'd1.csv' for p in files):\n"
        "    Path(out, 'd2', 'extra.csv').parent.mkdir(exist_ok=True)\n"
        "    Path(out, 'd2', 'extra.csv').write_text('EXTRA\\n')\n"
    )
    write(tmp_path, {"step.py": step})
    applied = kite("apply", "--parallel", "4", cwd=tmp_path, env=env)
    assert applied.code == 0, applied.stderr
    assert "b day=d2: started early on inputs that changed since" in applied.stderr
    assert (tmp_path / "data/b/d2/extra.csv").read_text() == "EXTRA\nb\n"
    record = last_run(tmp_path)
    b_d2 = [a for a in record["attempts"] if a["stage"] == "b" and a["key"] == {"day": "d2"}]
    assert [a["status"] for a in b_d2] == ["succeeded"]  # the one its stage's plan decided
    assert kite("plan", "--detailed-exitcode", cwd=tmp_path, env=env).code == 0


def test_kill_9_while_datums_flow_then_apply_again(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    env = project(reference)
    assert kite("apply", cwd=reference, env={**env, "STEP_SLOW": ""}).code == 0
    root = tmp_path / "killed"
    env = {**project(root), "KITE_CHECKPOINT_SECONDS": "0", "KITE_LEASE_TTL": "2"}
    victim = start("apply", "--parallel", "4", cwd=root, env={**env, "STEP_SLEEP": "6"})
    log = root / "calls.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # b runs while a's slow datum still sleeps
        if (
            log.exists()
            and sum(line.startswith("b ") for line in log.read_text().splitlines()) >= 2
        ):
            break
        time.sleep(0.05)
    victim.signal(signal.SIGKILL)
    victim.result()
    assert not (root / "data/total").exists(), "the run finished before it could be killed"
    time.sleep(7)  # the orphaned step ends, the lease expires
    again = kite("apply", "--parallel", "4", cwd=root, env=env)
    assert again.code == 0, again.stderr
    assert outputs(root) == outputs(reference)
    assert kite("fsck", cwd=root).code == 0
    assert kite("plan", "--detailed-exitcode", cwd=root, env=env).code == 0
    done: dict[tuple[str, str], int] = {}
    for run in json.loads(kite("log", "--json", cwd=root).stdout):
        shown = json.loads(kite("show", run["id"], "--json", cwd=root).stdout)
        for a in shown["attempts"]:
            if a["status"] in ("succeeded", "cached"):
                key = (a["stage"], json.dumps(a["key"], sort_keys=True))
                done[key] = done.get(key, 0) + 1
    assert len(done) == 2 * len(DAYS) + 1
    assert all(n == 1 for n in done.values()), done  # nothing lost, nothing twice


def test_keys_match_on_the_fields_two_stages_share() -> None:
    from kitecli.run.flow import Keys

    left = Keys([{"day": "d1"}, {"day": "d3"}])  # upstream datums still to commit
    assert left.related({"day": "d1", "station": "x"})
    assert not left.related({"day": "d2", "station": "x"})
    assert left.related({"month": "2024-01"})  # no shared field: waits for the whole stage
    assert left.related({})  # a whole-directory input too
    assert not Keys([]).related({"day": "d1"})
    mixed = Keys([{"day": "d1", "hour": "1"}, {"day": "d2"}])  # matched on `day` only
    assert mixed.related({"day": "d1", "hour": "2"})
