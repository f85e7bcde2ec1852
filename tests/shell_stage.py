"""A one-stage project whose command is a shell script over one input and one output, for
tests of what a command may do to its folders (tests/test_inputs_in_place.py,
tests/test_unfit_outputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import kite, write

PIPELINE = """\
kite: 1
name: shell
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  make:
    inputs:
      genome: INPUT
    retries: {limit: 2}
    command: [sh, -c, 'SCRIPT', sh, "{{ inputs.genome }}", "{{ outputs.made }}"]
    outputs:
      made: made/
"""


def apply_script(
    root: Path, script: str, *, each: bool = True, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """`kite apply` of SCRIPT (`$1`: the input view, `$2`: the output) over one FASTA file,
    per file or (`each=False`) as a whole folder, with `env` added to kite's environment;
    its exit code and stderr."""
    genome = '{path: genome/, each: "{name}.fa"}' if each else "{path: genome/}"
    write(
        root,
        {
            "pipeline.yaml": PIPELINE.replace("SCRIPT", script).replace("INPUT", genome),
            "data/genome/chr1.fa": ">chr1\nACGT\n",
        },
    )
    result = kite("apply", "--yes", cwd=root, env=env)
    assert "Traceback" not in result.stderr
    return result.code, result.stderr


def statuses(root: Path) -> list[str]:
    """The status of each attempt of the last run."""
    shown = json.loads(kite("show", "last", "--json", cwd=root).stdout)
    return [a["status"] for a in shown["attempts"]]
