"""An input that is one file (`genome: genome.fa`): the command gets the file's path, it is
hashed as one file, and a change to it re-plans, through `kite validate/plan/apply`."""

from __future__ import annotations

from pathlib import Path

from tests import helpers
from tests.helpers import write

PIPELINE = """\
kite: 1
name: one-file
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  align:
    inputs:
      genome: genome.fa
      reads: {path: reads/, each: "{s}.fq"}
    command: [sh, -c, 'test -f {{ inputs.genome }} && cat {{ inputs.genome }}
      {{ inputs.reads }}/{{ datum.s }}.fq > {{ outputs.out }}/{{ datum.s }}.sam']
    outputs: {out: aligned/}
  index:
    inputs: {genome: genome.fa}
    command: [sh, -c, 'wc -c < {{ inputs.genome }} > {{ outputs.out }}/size']
    outputs: {out: index/}
"""


def ok(root: Path, *args: str) -> helpers.Result:
    result = helpers.kite(*args, cwd=root)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == 0, result.stderr
    return result


def test_a_file_as_an_input_is_seen_hashed_and_re_planned(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": PIPELINE,
            "data/genome.fa": ">chr1\nACGT\n",
            "data/reads/a.fq": "r1\n",
            "data/reads/b.fq": "r2\n",
        },
    )
    ok(tmp_path, "validate")
    planned = ok(tmp_path, "plan").stdout
    assert "new input: genome.fa\n" in planned, planned
    assert "genome.fa/" not in planned
    ok(tmp_path, "apply", "--yes")
    assert (tmp_path / "data/aligned/a.sam").read_text() == ">chr1\nACGT\nr1\n"
    assert (tmp_path / "data/index/size").read_text().strip() == "11"
    assert "3 unchanged" in ok(tmp_path, "plan").stdout
    write(tmp_path, {"data/genome.fa": ">chr1\nACGTT\n"})
    planned = ok(tmp_path, "plan").stdout
    assert planned.count("input changed: genome.fa") == 3, planned
    ok(tmp_path, "apply", "--yes")
    assert (tmp_path / "data/index/size").read_text().strip() == "12"
    assert (tmp_path / "data/genome.fa").read_text() == ">chr1\nACGTT\n"  # still the user's


def test_a_saved_plan_of_a_file_input_applies(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE, "data/genome.fa": ">c\n", "data/reads/a.fq": "r\n"})
    ok(tmp_path, "plan", "--out", "plan.json")
    ok(tmp_path, "apply", "plan.json")
    assert (tmp_path / "data/aligned/a.sam").read_text() == ">c\nr\n"
    write(tmp_path, {"data/reads/b.fq": "s\n"})
    ok(tmp_path, "plan", "--out", "plan.json")
    write(tmp_path, {"data/genome.fa": ">d\n"})
    stale = helpers.kite("apply", "plan.json", cwd=tmp_path)
    assert stale.code == 3, stale.stderr
    assert "genome.fa changed since the plan was made" in stale.stderr
