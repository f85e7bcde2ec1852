"""`code:` inferred: a project file the command names is part of the fingerprint without
being listed; `code: {infer: false}` opts out; `kite validate` warns (line:col) about a
command item that looks like a project file and is none."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import kite, write

PIPELINE = """\
kite: 1
name: infer
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  clean:
    inputs: {{raw: {{path: raw/, each: "{{day}}.csv"}}}}
{code}    command: [sh, steps/clean.sh, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"{extra}]
    outputs: {{clean: clean/}}
"""
STEP = 'for f in "$1"/*; do tr a-z A-Z < "$f" > "$2/$(basename "$f")"; done\n'


def project(root: Path, *, code: str = "", extra: str = "") -> None:
    write(root, {"pipeline.yaml": PIPELINE.format(code=code, extra=extra)})
    write(root, {"steps/clean.sh": STEP, "data/raw/a.csv": "a\n", "data/raw/b.csv": "b\n"})


def plan(root: Path) -> dict[str, object]:
    result = kite("plan", "--json", cwd=root)
    assert result.code == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def reasons(root: Path) -> list[str]:
    stages = plan(root)["stages"]
    assert isinstance(stages, list)
    return sorted("; ".join(d["reasons"]) for d in stages[0]["datums"] if d["action"] == "run")


def test_a_script_the_command_names_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    project(tmp_path)
    assert kite("apply", cwd=tmp_path).code == 0
    assert reasons(tmp_path) == []
    (tmp_path / "steps/clean.sh").write_text(STEP + "# changed\n")
    assert reasons(tmp_path) == ["code changed: steps/clean.sh"] * 2
    (tmp_path / "steps/clean.sh").write_text(STEP)  # reverted: the same fingerprint again
    assert reasons(tmp_path) == []


def test_infer_false_leaves_the_named_script_out(tmp_path: Path) -> None:
    project(tmp_path, code="    code: {infer: false}\n")
    assert kite("apply", cwd=tmp_path).code == 0
    (tmp_path / "steps/clean.sh").write_text(STEP + "# changed\n")
    assert reasons(tmp_path) == []


def test_code_files_add_to_what_is_inferred(tmp_path: Path) -> None:
    project(tmp_path, code="    code: {files: [steps/lib.sh]}\n")
    write(tmp_path, {"steps/lib.sh": "# helpers\n"})
    assert kite("apply", cwd=tmp_path).code == 0
    (tmp_path / "steps/lib.sh").write_text("# helpers, changed\n")
    (tmp_path / "steps/clean.sh").write_text(STEP + "# changed\n")
    assert reasons(tmp_path) == ["code changed: steps/clean.sh; code changed: steps/lib.sh"] * 2


def test_validate_warns_about_a_named_file_that_does_not_exist(tmp_path: Path) -> None:
    project(tmp_path, extra=", steps/missing.py, data/raw/later.csv")
    result = kite("validate", cwd=tmp_path)
    assert result.code == 0, result.stderr
    lines = (tmp_path / "pipeline.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "steps/missing.py" in text)
    col = lines[line - 1].index("steps/missing.py") + 1
    assert (
        f"warning: pipeline.yaml:{line}:{col}: the command names steps/missing.py, which is"
        " not a file in the project" in result.stderr
    )
    assert "later.csv" not in result.stderr  # in the data root: data, not code
    data = json.loads(kite("validate", "--json", cwd=tmp_path).stdout)
    assert [w["message"] for w in data["warnings"]] == [
        "the command names steps/missing.py, which is not a file in the project"
    ]


def test_a_code_mapping_with_an_unknown_key_is_an_error_with_its_position(tmp_path: Path) -> None:
    project(tmp_path, code="    code: {infer: no, file: [x]}\n")
    result = kite("validate", cwd=tmp_path)
    assert result.code == 3
    assert "pipeline.yaml:8:23: unknown key 'file' in stages.clean.code" in result.stderr
    assert "hint: did you mean 'files'?" in result.stderr
