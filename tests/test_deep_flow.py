"""Datums flow more than one stage deep (run/overlay.py): a datum of c starts on what b's
early datums hold, while a still runs; results and records stay those of a run stage by
stage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.helpers import kite, write
from tests.test_datum_flow import DAYS, SLOW, datums, last_run, outputs
from tests.test_datum_flow import PIPELINE as FLOW
from tests.test_datum_flow import STEP as STEP_A

# the same steps, the slow one in the stage STEP_SLOW_STAGE names (default a)
STEP = STEP_A.replace(
    'if stage == "a" and', 'if stage == os.environ.get("STEP_SLOW_STAGE", "a") and'
)
assert STEP != STEP_A

C = """\
  c:
    inputs: {{b: {{path: b/, each: "{{day}}/*.csv"}}}}
    code: [step.py]
    command: ["{python}", step.py, c, "{{{{ inputs.b }}}}", "{{{{ outputs.c }}}}"]
    outputs: {{c: c/}}
"""
# the pipeline of tests/test_datum_flow.py with a stage c between b and total
PIPELINE = (
    FLOW.replace("  total:\n", C + "  total:\n")
    .replace("inputs: {{b: b/}}", "inputs: {{b: c/}}")
    .replace("name: flow", "name: deep")
)
assert PIPELINE.count("  c:") == 1
assert "inputs: {{b: c/}}" in PIPELINE


def project(root: Path) -> dict[str, str]:
    write(root, {"pipeline.yaml": PIPELINE.format(python=sys.executable), "step.py": STEP})
    write(root / "data", {f"raw/{day}.csv": f"{day}\n" for day in DAYS})
    return {"CALLS_LOG": str(root / "calls.log"), "STEP_SLOW": SLOW, "STEP_SLEEP": "4"}


def first_to_last(ran: dict[str, list[dict[str, Any]]], fast: str, slow: str) -> None:
    """Every datum of `fast` but d1's ended more than a second before `slow`'s last did."""
    slowest = max(a["ended"] for a in ran[slow])
    quick = [a for a in ran[fast] if a["key"] != {"day": "d1"}]
    assert len(quick) == len(DAYS) - 1
    assert all(a["ended"] < slowest - 1.0 for a in quick), f"{fast} waited for all of {slow}"


def by_stage(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    ran: dict[str, list[dict[str, Any]]] = {}
    for attempt in record["attempts"]:
        ran.setdefault(attempt["stage"], []).append(attempt)
    return ran


def test_a_datum_two_stages_down_starts_while_the_first_stage_runs(tmp_path: Path) -> None:
    env = project(tmp_path)
    applied = kite("apply", "--parallel", "4", cwd=tmp_path, env=env)
    assert applied.code == 0, applied.stderr
    ran = by_stage(last_run(tmp_path))
    assert list(ran) == ["a", "b", "c", "total"]
    first_to_last(ran, "c", "a")
    slowest = max(a["ended"] for a in ran["a"])
    slow_c = next(a for a in ran["c"] if a["key"] == {"day": "d1"})
    assert slow_c["started"] >= slowest  # its chain waits for a's d1
    assert ran["total"][0]["started"] >= max(a["ended"] for a in ran["c"])
    assert (tmp_path / "data/c/d2/d2.csv").read_text() == "D2\nA\nB\nc\n"
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert len(calls) == 3 * len(DAYS) + 1  # each datum ran once: nothing started early was lost


def test_a_stage_flows_on_its_upstream_stages_turn_after_the_one_before_ended(
    tmp_path: Path,
) -> None:
    """a ends at once; while b's turn runs its slow datum, c's other datums run."""
    env = {**project(tmp_path), "STEP_SLOW_STAGE": "b"}
    applied = kite("apply", "--parallel", "4", cwd=tmp_path, env=env)
    assert applied.code == 0, applied.stderr
    first_to_last(by_stage(last_run(tmp_path)), "c", "b")


def test_deep_flow_gives_the_results_and_records_of_a_run_stage_by_stage(tmp_path: Path) -> None:
    found = {}
    for jobs in ("4", "1"):
        root = tmp_path / jobs
        env = project(root)
        applied = kite("apply", "--parallel", jobs, cwd=root, env=env)
        assert applied.code == 0, applied.stderr
        found[jobs] = (outputs(root), datums(last_run(root)))
        again = kite("plan", "--detailed-exitcode", cwd=root, env=env)
        assert again.code == 0, again.stdout + again.stderr
    assert found["4"] == found["1"]
