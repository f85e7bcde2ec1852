"""`repeat: {until, max, then}` through `kite apply`: iteration k reads iteration k-1's
output; each iteration is a datum of its own in the run cache, so a killed apply resumes at
the iteration it was in, and an upstream change that leaves iteration 1's output as it was
finds the later iterations cached. `max` ends the loop as `then` says; other cycles are
still refused at their line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

from tests import helpers
from tests.helpers import write

PIPELINE = """\
kite: 1
name: halving
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  prep:
    inputs: {raw: raw/}
    command: [sh, -c, "cp {{ inputs.raw }}/value.txt {{ outputs.seed }}/value.txt"]
    outputs: {seed: seed/}
  halve:
    inputs: {seed: seed/}
    repeat: {until: "UNTIL", max: MAX, then: THEN}
    command: [python3, steps/halve.py, "{{ inputs.previous }}", "{{ outputs.halved }}"]
    outputs: {halved: halved/}
  report:
    inputs: {halved: halved/}
    command: [sh, -c, "cp {{ inputs.halved }}/value.txt {{ outputs.report }}/final.txt"]
    outputs: {report: report/}
"""

HALVE = """\
import json, os, sys, time
from pathlib import Path

previous, out = Path(sys.argv[1]), Path(sys.argv[2])
value = int((previous / "value.txt").read_text().split()[0])
with open(os.environ["CALLS_LOG"], "a") as log:
    log.write(f"{value} {os.getpid()}\\n")
if os.environ.get("SLOW_AT") == str(value):
    time.sleep(60)
(out / "value.txt").write_text(f"{value // 2}\\n")
(out / "metrics.json").write_text(json.dumps({"value": value // 2}))
"""


def project(
    root: Path, *, until: str = "metrics.value <= 10", most: int = 10, then: str = "failed"
) -> dict[str, str]:
    """The halving project (80 → 40 → 20 → 10) and the environment its commands need."""
    text = PIPELINE.replace("UNTIL", until).replace("MAX", str(most)).replace("THEN", then)
    write(root, {"pipeline.yaml": text, "steps/halve.py": HALVE, "data/raw/value.txt": "80\n"})
    return {"CALLS_LOG": str(root / "calls.log")}


def calls(root: Path) -> list[int]:
    """The value each run of halve.py read, in order."""
    log = root / "calls.log"
    return [int(line.split()[0]) for line in log.read_text().splitlines()] if log.exists() else []


def iterations(root: Path) -> list[tuple[int, str, bool | None]]:
    """(iteration, status, until) of each attempt of `halve` in the last run."""
    shown = helpers.kite("show", "last", "--json", cwd=root)
    assert shown.code == 0, shown.stderr
    found = json.loads(shown.stdout)["attempts"]
    return [(a["iteration"], a["status"], a["until"]) for a in found if a["stage"] == "halve"]


def test_converges_at_iteration_3_of_10_and_downstream_reads_the_last(tmp_path: Path) -> None:
    env = project(tmp_path)
    plan = helpers.kite("plan", cwd=tmp_path, env=env)
    assert "up to 10 iterations (known after apply)" in plan.stdout, plan.stdout
    result = helpers.kite("apply", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    assert calls(tmp_path) == [80, 40, 20]
    assert iterations(tmp_path) == [
        (1, "succeeded", False),
        (2, "succeeded", False),
        (3, "succeeded", True),
    ]
    assert (tmp_path / "data/halved/value.txt").read_text() == "10\n"
    assert (tmp_path / "data/report/final.txt").read_text() == "10\n"
    shown = helpers.kite("show", "last", cwd=tmp_path).stdout
    assert "iteration 2: `until` is false" in shown
    assert "iteration 3: `until` holds" in shown
    again = helpers.kite("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert again.code == 0, again.stdout + again.stderr
    assert calls(tmp_path) == [80, 40, 20]


def test_a_kill_9_in_iteration_2_resumes_at_iteration_2(tmp_path: Path) -> None:
    env = project(tmp_path)
    env |= {"KITE_LEASE_TTL": "2", "KITE_CHECKPOINT_SECONDS": "0"}
    victim = helpers.start("apply", cwd=tmp_path, env={**env, "SLOW_AT": "40"})
    deadline = time.monotonic() + 60
    while len(calls(tmp_path)) < 2 and time.monotonic() < deadline:  # iteration 2 began
        time.sleep(0.1)
    victim.signal(signal.SIGKILL)
    victim.result()
    lines = (tmp_path / "calls.log").read_text().splitlines()
    assert [int(line.split()[0]) for line in lines] == [80, 40], "not killed in iteration 2"
    os.kill(int(lines[1].split()[1]), signal.SIGKILL)  # the orphaned command of iteration 2
    time.sleep(3)  # the lease expires
    result = helpers.kite("apply", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    assert calls(tmp_path) == [80, 40, 40, 20], "iteration 1 ran again, or 2 did not"
    assert iterations(tmp_path) == [
        (1, "cached", False),
        (2, "succeeded", False),
        (3, "succeeded", True),
    ]
    assert (tmp_path / "data/report/final.txt").read_text() == "10\n"


def test_an_upstream_change_with_the_same_first_iteration_cuts_off_the_rest(
    tmp_path: Path,
) -> None:
    env = project(tmp_path)
    assert helpers.kite("apply", cwd=tmp_path, env=env).code == 0
    (tmp_path / "data/raw/value.txt").write_text("81\n")  # 81 // 2 == 80 // 2
    result = helpers.kite("apply", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    assert calls(tmp_path) == [80, 40, 20, 81], "only iteration 1 runs again"
    assert iterations(tmp_path) == [
        (1, "succeeded", False),
        (2, "cached", False),
        (3, "cached", True),
    ]
    shown = json.loads(helpers.kite("show", "last", "--json", cwd=tmp_path).stdout)
    assert not [a for a in shown["attempts"] if a["stage"] == "report"], "report re-ran"
    assert (tmp_path / "data/report/final.txt").read_text() == "10\n"


def test_max_reached_fails_the_datum_by_default(tmp_path: Path) -> None:
    env = project(tmp_path, until="metrics.value < 0", most=3)
    result = helpers.kite("apply", cwd=tmp_path, env=env)
    assert result.code == 1, result.stderr
    assert "`metrics.value < 0` did not hold after 3 iterations (`then: failed`)" in result.stderr
    assert calls(tmp_path) == [80, 40, 20]
    assert [(k, until) for k, _, until in iterations(tmp_path)] == [
        (1, False),
        (2, False),
        (3, False),
    ]
    assert iterations(tmp_path)[-1][1] == "failed"
    assert not (tmp_path / "data/halved").exists()
    assert not (tmp_path / "data/report").exists()
    assert "Traceback" not in result.stderr


def test_max_reached_keeps_the_last_output_with_then_accepted(tmp_path: Path) -> None:
    env = project(tmp_path, until="metrics.value < 0", most=3, then="accepted")
    result = helpers.kite("apply", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    assert "the last one is accepted" in result.stderr
    assert (tmp_path / "data/halved/value.txt").read_text() == "10\n"
    assert (tmp_path / "data/report/final.txt").read_text() == "10\n"


def test_any_other_cycle_is_still_refused_at_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": """\
kite: 1
stages:
  a:
    inputs: {x: b/}
    repeat: {until: "files > 0", max: 3}
    command: [x, "{{ inputs.previous }}"]
    outputs: {o: a/}
  b:
    inputs: {x: a/}
    command: [x]
    outputs: {o: b/}
"""
        },
    )
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3
    assert "pipeline.yaml:3:3: dependency cycle: a -> b -> a" in result.stderr, result.stderr
    assert "use `repeat:`" in result.stderr


def test_what_cannot_iterate_safely_is_refused_at_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": """\
kite: 1
stages:
  a:
    inputs: {x: {path: raw/, each: "{n}.txt"}}
    repeat: {until: "metrics.done ==", max: 3}
    command: [x, "{{ inputs.previous }}"]
    outputs: {o: a/, p: b/}
  c:
    inputs: {x: raw/}
    command: [x, "{{ inputs.previous }}"]
    outputs: {o: c/}
"""
        },
    )
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3
    err = result.stderr
    assert "pipeline.yaml:4:36: a stage with `repeat:` reads its input as one whole folder" in err
    assert "pipeline.yaml:5:5: a stage with `repeat:` writes exactly one output" in err
    assert "pipeline.yaml:5:37: invalid CEL expression: the expression ends too early" in err
    assert "pipeline.yaml:10:19: unknown name {{ inputs.previous }}" in err, err
    assert "only a stage with `repeat:`" in err
    assert "Traceback" not in err


def test_the_iterate_example_ranks_pages_until_they_settle(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "examples/iterate"
    root = tmp_path / "iterate"
    shutil.copytree(example, root, ignore=shutil.ignore_patterns(".kite"))
    result = helpers.kite("apply", cwd=root)
    assert result.code == 0, result.stderr
    shown = json.loads(helpers.kite("show", "last", "--json", cwd=root).stdout)
    ranked = [a for a in shown["attempts"] if a["stage"] == "rank"]
    assert [a["until"] for a in ranked[:-1]] == [False] * (len(ranked) - 1)
    assert ranked[-1]["until"] is True
    assert 1 < len(ranked) < 50
    top = (root / "data/top/top.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in top] == ["blog", "home", "post-1"]


def test_an_until_that_cannot_be_evaluated_fails_the_datum_saying_why(tmp_path: Path) -> None:
    env = project(tmp_path, until="metrics.loss < 1")  # halve.py writes no `loss`
    result = helpers.kite("apply", cwd=tmp_path, env=env)
    assert result.code == 1, result.stderr
    assert "repeat: `until: metrics.loss < 1` failed on iteration 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert calls(tmp_path) == [80]


def test_each_iteration_has_a_fingerprint_of_its_own() -> None:
    from kitecli.plan.fingerprint import iteration_fingerprint

    made = {
        iteration_fingerprint("b3:def", {}, k, previous)
        for k in (1, 2)
        for previous in ("b3:in", "b3:out")
    } | {iteration_fingerprint("b3:other", {}, 1, "b3:in")}
    made |= {iteration_fingerprint("b3:def", {"n": "1"}, 1, "b3:in")}
    assert len(made) == 6
    assert iteration_fingerprint("b3:def", {}, 2, "b3:out") in made  # the same inputs, again
