"""`ready:` on an input: a folder still being written is never processed. Its datums are
`wait` (not failed, exit 0) until the marker exists or the condition holds; `kite apply
--wait` waits for them, saying what it waits for."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

from tests import helpers
from tests.helpers import write

PIPELINE = """\
kite: 1
name: ready
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  load:
    inputs:
      raw: {path: raw/, each: "{day}/*.csv", by: [day], ready: "{day}/_SUCCESS"}
    command: [sh, -c, 'cat {{ inputs.raw }}/*/*.csv > {{ outputs.out }}/{{ datum.day }}.csv']
    outputs: {out: loaded/}
  total:
    inputs:
      parts: {path: loaded/, ready: {when: "files >= 2"}}
    command: [sh, -c, 'cat {{ inputs.parts }}/* > {{ outputs.out }}/all.csv']
    outputs: {out: total/}
"""


def project(root: Path) -> None:
    write(
        root,
        {
            "pipeline.yaml": PIPELINE,
            "data/raw/2026-12-01/a.csv": "a\n",
            "data/raw/2026-12-01/_SUCCESS": "",
            "data/raw/2026-12-02/b.csv": "b\n",  # still being uploaded: no marker yet
        },
    )


def test_a_folder_without_its_marker_waits_and_nothing_fails(tmp_path: Path) -> None:
    project(tmp_path)
    planned = helpers.kite("plan", cwd=tmp_path)
    assert planned.code == 0, planned.stderr
    assert "load: 1 to run, 1 waiting" in planned.stdout
    assert "waiting for raw/2026-12-02/_SUCCESS" in planned.stdout
    applied = helpers.kite("apply", cwd=tmp_path)
    assert applied.code == 0, applied.stderr
    assert "1 datum waits (load: waiting for raw/2026-12-02/_SUCCESS)" in applied.stderr
    assert sorted(p.name for p in (tmp_path / "data/loaded").iterdir()) == ["2026-12-01.csv"]
    assert not (tmp_path / "data/total").exists() or not any((tmp_path / "data/total").iterdir())
    again = helpers.kite("plan", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.stdout  # waiting is no change to apply
    assert "input parts is not ready (`files >= 2` is false)" in again.stdout
    assert "No changes: 2 datums wait" in again.stdout
    (tmp_path / "data/raw/2026-12-02/_SUCCESS").write_text("")
    done = helpers.kite("apply", cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert (tmp_path / "data/total/all.csv").read_text() == "a\nb\n"
    assert helpers.kite("plan", "--detailed-exitcode", cwd=tmp_path).code == 0


def test_the_plan_as_json_counts_the_waiting_datums(tmp_path: Path) -> None:
    project(tmp_path)
    result = helpers.kite("plan", "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    plan = json.loads(result.stdout)
    load = next(s for s in plan["stages"] if s["name"] == "load")
    assert load["summary"]["wait"] == 1
    assert [d["action"] for d in load["datums"]] == ["run", "wait"]


def test_apply_wait_runs_the_datum_once_its_marker_appears(tmp_path: Path) -> None:
    project(tmp_path)
    marker = tmp_path / "data/raw/2026-12-02/_SUCCESS"
    later = threading.Timer(2.5, marker.write_text, args=("",))
    later.start()
    began = time.monotonic()
    try:
        result = helpers.kite("apply", "--wait", "1m", cwd=tmp_path)
    finally:
        later.cancel()
    assert result.code == 0, result.stderr
    assert "looking again in 1 s" in result.stderr
    assert "waiting for raw/2026-12-02/_SUCCESS" in result.stderr
    assert time.monotonic() - began < 40
    assert (tmp_path / "data/loaded/2026-12-02.csv").read_text() == "b\n"


def test_apply_wait_gives_up_after_its_duration_and_runs_the_rest(tmp_path: Path) -> None:
    project(tmp_path)
    result = helpers.kite("apply", "--wait", "2s", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "waited 2 s; 1 datum waits" in result.stderr
    assert "the run goes on without them" in result.stderr
    assert sorted(p.name for p in (tmp_path / "data/loaded").iterdir()) == ["2026-12-01.csv"]


def test_a_marker_with_a_field_the_key_has_not_is_refused_at_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"pipeline.yaml": PIPELINE.replace('ready: "{day}/_SUCCESS"', 'ready: "{dy}/_OK"')},
    )
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3, result.stdout
    assert "pipeline.yaml:8:" in result.stderr
    assert "uses {dy}, which is not a field of the datum's key" in result.stderr
    assert "{day}" in result.stderr


def test_a_ready_condition_that_does_not_parse_is_refused_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE.replace('"files >= 2"', '"files >="')})
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3, result.stdout
    assert "pipeline.yaml:13:" in result.stderr
    assert "invalid CEL expression" in result.stderr


def test_the_uploads_example_merges_complete_days_only(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "examples/uploads"
    shutil.copytree(example, tmp_path / "uploads", ignore=shutil.ignore_patterns(".kite"))
    root = tmp_path / "uploads"
    first = helpers.kite("apply", cwd=root)
    assert first.code == 0, first.stderr
    assert sorted(p.name for p in (root / "data/days").iterdir()) == ["2026-12-01.csv"]
    day = (root / "data/days/2026-12-01.csv").read_text().splitlines()
    assert day == ["station,temp_c", "alpha,3.5", "beta,-1.0", "gamma,7.25"]
    (root / "data/incoming/2026-12-02/_SUCCESS").write_text("")
    second = helpers.kite("apply", cwd=root)
    assert second.code == 0, second.stderr
    assert "merge: 1 succeeded" in second.stderr
    week = helpers.kite("plan", cwd=root)
    assert "input days is not ready (`files >= 7` is false)" in week.stdout
