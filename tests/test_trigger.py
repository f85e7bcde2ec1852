"""`trigger:` on a stage: its new datums wait until `min_new` of them are there, or the
oldest has waited `max_wait` (from when `kite apply` first saw it, kept in the committed
state); `--now` runs them at once. Later times come from faketime, not from sleeping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import helpers
from tests.helpers import write

PIPELINE = """\
kite: 1
name: accumulate
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  train:
    inputs:
      rows: {path: rows/, each: "{id}.csv"}
    trigger: {min_new: 3, max_wait: 2h}
    command: [sh, -c, 'cp {{ inputs.rows }}/* {{ outputs.model }}/']
    outputs: {model: model/}
"""


def project(root: Path, *ids: str) -> None:
    write(root, {"pipeline.yaml": PIPELINE, **{f"data/rows/{i}.csv": f"{i}\n" for i in ids}})


def model(root: Path) -> list[str]:
    folder = root / "data/model"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def later(root: Path, offset: str, *args: str) -> helpers.Result:
    """`kite ARGS` with the clock moved on by `offset` (faketime's `+2h` form)."""
    if shutil.which("faketime") is None:
        pytest.skip("faketime is not installed (make test installs it with apt-get)")
    done = subprocess.run(
        ["faketime", "-f", offset, sys.executable, "-m", "kitecli", *args],
        cwd=root,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return helpers.Result(done.returncode, done.stdout, done.stderr)


def test_new_datums_wait_until_enough_of_them_are_there(tmp_path: Path) -> None:
    project(tmp_path, "a", "b")
    planned = helpers.kite("plan", cwd=tmp_path)
    assert planned.code == 0, planned.stderr
    assert "train: 2 waiting" in planned.stdout
    assert "trigger: waiting: 2 of 3 new datums, runs by " in planned.stdout
    first = helpers.kite("apply", cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert "2 datums wait (train: waiting: 2 of 3 new datums" in first.stderr
    assert "kite apply --now runs what a trigger holds back" in first.stderr
    assert model(tmp_path) == []
    again = helpers.kite("apply", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert "No changes: 2 datums wait" in again.stderr  # the wait began at the first apply
    write(tmp_path, {"data/rows/c.csv": "c\n"})
    third = helpers.kite("apply", cwd=tmp_path)
    assert third.code == 0, third.stderr
    assert "train: 3 succeeded" in third.stderr
    assert model(tmp_path) == ["a.csv", "b.csv", "c.csv"]
    write(tmp_path, {"data/rows/d.csv": "d\n"})  # a new round: it waits again
    assert "train: 1 waiting" in helpers.kite("plan", cwd=tmp_path).stdout


def test_the_oldest_datum_runs_once_it_has_waited_max_wait(tmp_path: Path) -> None:
    project(tmp_path, "a")
    assert helpers.kite("apply", cwd=tmp_path).code == 0  # the wait begins here
    soon = later(tmp_path, "+1h", "apply")
    assert soon.code == 0, soon.stderr
    assert "No changes: 1 datum waits (train: waiting: 1 of 3 new datums" in soon.stderr
    assert model(tmp_path) == []
    late = later(tmp_path, "+3h", "apply")
    assert late.code == 0, late.stderr
    assert "train: 1 succeeded" in late.stderr
    assert model(tmp_path) == ["a.csv"]


def test_a_datum_seen_later_does_not_reset_the_wait(tmp_path: Path) -> None:
    project(tmp_path, "a")
    assert helpers.kite("apply", cwd=tmp_path).code == 0
    write(tmp_path, {"data/rows/b.csv": "b\n"})
    mid = later(tmp_path, "+90m", "apply")
    assert "2 datums wait" in mid.stderr, mid.stderr
    late = later(tmp_path, "+150m", "apply")  # 2h after a, 1h after b: both run
    assert "train: 2 succeeded" in late.stderr, late.stderr


def test_now_runs_what_the_trigger_holds_back(tmp_path: Path) -> None:
    project(tmp_path, "a")
    planned = helpers.kite("plan", "--now", cwd=tmp_path)
    assert "train: 1 to run" in planned.stdout, planned.stdout
    result = helpers.kite("apply", "--now", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert model(tmp_path) == ["a.csv"]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("{min_new: 0, max_wait: 2h}", "0 is less than the minimum of 1"),
        ("{min_new: 3, max_wait: soon}", "not a duration: 'soon'"),
        ("{}", "trigger: must not be empty"),
    ],
)
def test_a_bad_trigger_is_refused_at_its_line(tmp_path: Path, written: str, message: str) -> None:
    pipeline = PIPELINE.replace("{min_new: 3, max_wait: 2h}", written)
    write(tmp_path, {"pipeline.yaml": pipeline})
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3, result.stdout
    assert "pipeline.yaml:9:" in result.stderr
    assert message in result.stderr


def test_the_accumulate_example_waits_and_runs_with_now(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "examples/accumulate"
    root = tmp_path / "accumulate"
    shutil.copytree(example, root, ignore=shutil.ignore_patterns(".kite"))
    held = helpers.kite("apply", cwd=root)
    assert held.code == 0, held.stderr
    assert "3 datums wait (score: waiting: 3 of 5 new datums" in held.stderr
    assert not (root / "data/scores").exists()
    done = helpers.kite("apply", "--now", cwd=root)
    assert done.code == 0, done.stderr
    assert (root / "data/total/total.csv").read_text() == "u1,30\nu2,60\nu3,90\n"


def test_a_saved_plan_keeps_the_time_the_wait_began(tmp_path: Path) -> None:
    other = "  other:\n    datums: {n: [x]}\n    command: [sh, -c, 'echo > {{ outputs.o }}/x']\n"
    project(tmp_path, "a")
    assert helpers.kite("apply", "--stage", "train", cwd=tmp_path).code == 0  # the wait begins
    write(tmp_path, {"pipeline.yaml": PIPELINE + other + "    outputs: {o: other/}\n"})
    assert helpers.kite("plan", "--out", "plan.json", cwd=tmp_path).code == 0
    saved = helpers.kite("apply", "plan.json", cwd=tmp_path)
    assert saved.code == 0, saved.stderr
    assert "other: 1 succeeded" in saved.stderr
    late = later(tmp_path, "+3h", "apply")
    assert "train: 1 succeeded" in late.stderr, late.stderr
