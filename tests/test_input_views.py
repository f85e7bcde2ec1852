"""A datum's input views through `kite apply`: stages whose inputs share a name, and an
input that is one file rather than a folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests import helpers
from tests.helpers import write

# step.py STAGE OUT_DIR IN_DIR...: lists what each view holds (one line per run, to
# calls.log) and writes one output file per input file, so tests see what ran, on what.
STEP = """\
import sys
from pathlib import Path

stage, out, *views = sys.argv[1:]
seen = []
for view in views:
    for p in sorted(Path(view).rglob("*")):
        if p.is_file():
            rel = p.relative_to(view).as_posix()
            seen.append(Path(view).name + "/" + rel)
            target = Path(out, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(stage + ":" + p.read_text())
with open("calls.log", "a") as log:
    log.write(stage + " " + ",".join(seen) + "\\n")
"""

# three stages reading an input named `bam`: keyed (sort, index) and whole (call)
SHARED_NAMES = """\
kite: 1
name: views
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  sort:
    inputs:
      bam: {{path: raw/, each: "{{name}}.bam"}}
    code: [step.py]
    command: ["{python}", step.py, sort, "{{{{ outputs.sorted }}}}", "{{{{ inputs.bam }}}}"]
    outputs: {{sorted: sorted/}}
  index:
    inputs:
      bam: {{path: sorted/, each: "{{name}}.bam"}}
    code: [step.py]
    command: ["{python}", step.py, index, "{{{{ outputs.index }}}}", "{{{{ inputs.bam }}}}"]
    outputs: {{index: index/}}
  call:
    inputs:
      bam: sorted/
      idx: index/
    code: [step.py]
    command: ["{python}", step.py, call, "{{{{ outputs.calls }}}}", "{{{{ inputs.bam }}}}",
              "{{{{ inputs.idx }}}}"]
    outputs: {{calls: calls/}}
"""


def shared_names(root: Path) -> None:
    write(root, {"pipeline.yaml": SHARED_NAMES.format(python=sys.executable), "step.py": STEP})
    for name in ("a", "b", "c"):
        write(root, {f"data/raw/{name}.bam": f"reads of {name}\n"})


def runs(root: Path) -> list[str]:
    """The stages that ran since the last call, with what their views held."""
    log = root / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return sorted(lines)


def applied(root: Path, *args: str) -> helpers.Result:
    result = helpers.kite("apply", "--yes", *args, cwd=root)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == 0, result.stderr
    return result


@pytest.mark.parametrize("parallel", ["1", "2"])
def test_stages_whose_inputs_share_a_name_apply_again_and_again(
    tmp_path: Path, parallel: str
) -> None:
    shared_names(tmp_path)
    applied(tmp_path, "--parallel", parallel)
    ran = runs(tmp_path)
    assert [line.split()[0] for line in ran] == ["call"] + ["index"] * 3 + ["sort"] * 3
    # the whole-folder view of `call` holds its own folder, not a leftover of sort's view
    assert "call bam/a.bam,bam/b.bam,bam/c.bam,idx/a.bam,idx/b.bam,idx/c.bam" in ran
    assert "index bam/b.bam" in ran
    assert (tmp_path / "data/calls/a.bam").read_text() == "call:index:sort:reads of a\n"
    for round_ in range(3):
        write(tmp_path, {"data/raw/b.bam": f"new reads of b, {round_}\n"})
        applied(tmp_path, "--parallel", parallel)
        ran = runs(tmp_path)
        assert [line.split()[0] for line in ran] == ["call", "index", "sort"], ran
        assert "sort bam/b.bam" in ran
        assert (
            tmp_path / "data/calls/b.bam"
        ).read_text() == f"call:index:sort:new reads of b, {round_}\n"
    assert helpers.kite("plan", "--detailed-exitcode", cwd=tmp_path).code == 0
    assert not list((tmp_path / ".kite" / "tmp").glob("*")), "scratch left behind"
