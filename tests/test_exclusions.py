"""What is not part of an input: version-control folders, `exclude:` globs, `.kiteignore`,
through `kite plan` and `kite apply` on real folders (and a real git repository)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import helpers
from tests.helpers import write
from tests.test_input_views import STEP, applied, runs

PIPELINE = """\
kite: 1
name: exclusions
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  count:
    inputs:
      raw: {{path: raw/{exclude}}}
    code: [step.py]
    command: ["{python}", step.py, count, "{{{{ outputs.out }}}}", "{{{{ inputs.raw }}}}"]
    outputs: {{out: out/}}
"""


def project(root: Path, exclude: str = "") -> None:
    text = PIPELINE.format(python=sys.executable, exclude=exclude)
    write(root, {"pipeline.yaml": text, "step.py": STEP})
    write(root, {"data/raw/a.csv": "a\n", "data/raw/b.csv": "b\n"})


def plan(root: Path) -> helpers.Result:
    result = helpers.kite("plan", cwd=root)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == 0, result.stderr
    return result


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_git_repository_in_the_data_is_no_part_of_it(tmp_path: Path) -> None:
    project(tmp_path)
    raw = tmp_path / "data/raw"
    git(raw, "init", "-q")
    git(raw, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(raw, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data")
    applied(tmp_path)
    assert runs(tmp_path) == ["count raw/a.csv,raw/b.csv"]  # no .git/ in the view
    (raw / "a.csv").touch()
    git(raw, "status")  # rewrites .git/index
    assert (raw / ".git/index").exists()
    assert "1 unchanged" in plan(tmp_path).stdout
    assert not (tmp_path / "data/out/.git").exists()


def test_an_exclude_glob_keeps_files_out_of_the_digest_and_the_view(tmp_path: Path) -> None:
    project(tmp_path, exclude=', exclude: ["*.tmp", "scratch/"]')
    write(tmp_path, {"data/raw/c.tmp": "x\n", "data/raw/scratch/d.csv": "d\n"})
    applied(tmp_path)
    assert runs(tmp_path) == ["count raw/a.csv,raw/b.csv"]
    write(tmp_path, {"data/raw/c.tmp": "changed\n", "data/raw/scratch/e.csv": "e\n"})
    assert "1 unchanged" in plan(tmp_path).stdout
    write(tmp_path, {"data/raw/a.csv": "changed\n"})
    assert "input changed: raw/" in plan(tmp_path).stdout


def test_a_changed_exclusion_re_plans_and_says_why(tmp_path: Path) -> None:
    project(tmp_path, exclude=', exclude: ["*.tmp"]')
    applied(tmp_path)
    runs(tmp_path)
    project(tmp_path, exclude=', exclude: ["*.tmp", "*.bak"]')
    assert "exclusions changed: exclude:" in plan(tmp_path).stdout


def test_a_kiteignore_applies_to_its_folder_and_below(tmp_path: Path) -> None:
    project(tmp_path)
    write(
        tmp_path,
        {
            "data/raw/sub/.kiteignore": "*.log\n",
            "data/raw/sub/keep.csv": "k\n",
            "data/raw/sub/run.log": "noise\n",
            "data/raw/top.log": "kept: the .kiteignore is below it\n",
        },
    )
    applied(tmp_path)
    assert runs(tmp_path) == ["count raw/a.csv,raw/b.csv,raw/sub/keep.csv,raw/top.log"]
    write(tmp_path, {"data/raw/sub/run.log": "more noise\n"})
    assert "1 unchanged" in plan(tmp_path).stdout
    write(tmp_path, {"data/raw/sub/.kiteignore": "*.log\n*.csv\n"})
    out = plan(tmp_path).stdout
    assert "exclusions changed: raw/sub/.kiteignore" in out, out


NESTED = """\
kite: 1
name: nested
environments:
  dev: {data: ./data}
stages:
  align:
    inputs:
      genome: data/
      reads: {path: data/samples/, each: "{sample}.fq", exclude: [BAD]}
    command: [echo, "{{ inputs.genome }}", "{{ inputs.reads }}"]
    outputs: {out: out/}
"""


def test_validate_warns_of_an_input_inside_another(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": NESTED.replace(", exclude: [BAD]", "")})
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "warning: pipeline.yaml:8:15: input genome (data/) holds input reads" in result.stderr
    assert "every datum then depends on every file of data/samples/" in result.stderr
    assert "add `exclude: [/samples/]` to input genome" in result.stderr


def test_an_exclude_glob_gitignore_cannot_read_is_an_error_at_its_place(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": NESTED.replace("BAD", '"scratch\\\\"')})
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3, result.stderr
    assert "pipeline.yaml:9:67: invalid `exclude` glob 'scratch\\\\'" in result.stderr
    assert "hint: globs follow .gitignore" in result.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_hash_explain_names_what_an_input_leaves_out(tmp_path: Path) -> None:
    write(tmp_path, {"raw/a.csv": "a\n", "raw/.kiteignore": "*.log\n", "raw/x.log": "x\n"})
    git(tmp_path / "raw", "init", "-q")
    result = helpers.kite("hash", "raw", "--explain", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "3 files" in result.stdout  # the folder: all but .git/
    lines = result.stderr.splitlines()
    assert "excluded: .git/ (a version-control folder)" in lines
    assert "excluded: .kiteignore (a .kiteignore is not data)" in lines
    assert "excluded: x.log (by .kiteignore)" in lines
    write(tmp_path, {"only/a.csv": "a\n"})
    alone = helpers.kite("hash", "only", cwd=tmp_path).stdout.split()[0]
    assert f"as an input: {alone}  1 file  2 bytes" in lines


def test_a_keyed_input_leaves_out_what_its_exclusions_name(tmp_path: Path) -> None:
    text = PIPELINE.format(python=sys.executable, exclude=', each: "**/{name}.csv", exclude: old/')
    write(tmp_path, {"pipeline.yaml": text, "step.py": STEP})
    write(tmp_path, {"data/raw/a.csv": "a\n", "data/raw/old/b.csv": "b\n"})
    write(tmp_path, {"data/raw/.kiteignore": "c.csv\n", "data/raw/c.csv": "c\n"})
    out = plan(tmp_path).stdout
    assert "new input: raw/a.csv" in out, out
    assert "old/b.csv" not in out, out
    assert "c.csv" not in out, out
    assert "1 to run" in out, out
