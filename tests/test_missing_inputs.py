"""An input folder that is not there: an error naming its line:col, not "up to date", and
never a plan to delete what the right path made; `optional: true` makes it no datums."""

from __future__ import annotations

from pathlib import Path

from tests import helpers
from tests.helpers import write

PIPELINE = """\
kite: 1
name: missing
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  align:
    inputs:
      reads: {path: samples/, each: "{s}.fq"}
    command: [sh, -c, 'cp {{ inputs.reads }}/* {{ outputs.out }}/']
    outputs: {out: aligned/}
  merge:
    inputs: {aligned: aligned/}
    command: [sh, -c, 'cat {{ inputs.aligned }}/* > {{ outputs.out }}/all']
    outputs: {out: merged/}
"""


def project(root: Path, pipeline: str = PIPELINE) -> None:
    write(root, {"pipeline.yaml": pipeline, "data/samples/a.fq": "a\n", "data/samples/b.fq": "b\n"})


def test_an_upstream_output_is_not_missing_before_its_stage_ran(tmp_path: Path) -> None:
    project(tmp_path)
    result = helpers.kite("plan", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "merge: known after apply (align: 2 new datums)" in result.stdout


def test_a_mistyped_input_is_an_error_at_its_line_and_deletes_nothing(tmp_path: Path) -> None:
    project(tmp_path)
    assert helpers.kite("apply", "--yes", cwd=tmp_path).code == 0
    write(tmp_path, {"pipeline.yaml": PIPELINE.replace("path: samples/", "path: sampels/")})
    for command in (["plan"], ["apply", "--yes"]):
        result = helpers.kite(*command, cwd=tmp_path)
        assert result.code == 3, result.stderr
        assert "Traceback" not in result.stderr
        assert "pipeline.yaml:8:21: stage align: input reads: no sampels/" in result.stderr
        assert "did you mean samples/?" in result.stderr
        assert "optional: true" in result.stderr
    assert sorted(p.name for p in (tmp_path / "data/aligned").iterdir()) == ["a.fq", "b.fq"]
    write(tmp_path, {"pipeline.yaml": PIPELINE})
    assert helpers.kite("plan", "--detailed-exitcode", cwd=tmp_path).code == 0


def test_a_missing_folder_of_a_fresh_project_is_an_error_too(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE, "data/other/x": "x\n"})
    result = helpers.kite("plan", cwd=tmp_path)
    assert result.code == 3, result.stdout
    assert "no samples/" in result.stderr
    assert "did you mean" not in result.stderr


def test_an_optional_input_that_is_missing_gives_no_datums(tmp_path: Path) -> None:
    optional = PIPELINE.replace('"{s}.fq"}', '"{s}.fq", optional: true}')
    write(tmp_path, {"pipeline.yaml": optional, "data/other/x": "x\n"})
    result = helpers.kite("plan", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "align: no datums" in result.stdout
