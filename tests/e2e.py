"""A small three-stage project for end-to-end tests, whose steps log every execution."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.helpers import write

# step.py MODE STAGE IN_DIR OUT_DIR: copies (or sums) its input view, appending one line
# per execution to calls.log in the project folder, so tests can count what ran.
STEP = """\
import os, sys, time
from pathlib import Path

mode, stage, src, out = sys.argv[1:5]
files = sorted(p for p in Path(src).rglob("*") if p.is_file())
with open(Path(os.environ["CALLS_LOG"]), "a") as log:
    log.write(stage + " " + ",".join(p.relative_to(src).as_posix() for p in files) + "\\n")
print(stage, "processing", ",".join(p.name for p in files), flush=True)
if os.environ.get("STEP_SLEEP"):
    time.sleep(float(os.environ["STEP_SLEEP"]))
if os.environ.get("STEP_FAIL") and os.environ["STEP_FAIL"] in {p.name for p in files}:
    sys.exit(7)
if mode == "copy":
    for p in files:
        target = Path(out, p.relative_to(src))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(p.read_text().upper())
elif mode == "sum":
    total = sum(len(p.read_text()) for p in files)
    name = files[0].stem if len(files) == 1 else "all"
    Path(out, name + ".txt").write_text(str(total) + "\\n")
"""

PIPELINE = """\
kite: 1
name: e2e
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  clean:
    inputs:
      raw: {{path: raw/, each: "{{day}}.csv"}}
    code: [step.py]
    command: ["{python}", step.py, copy, clean, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"]
    outputs: {{clean: clean/}}
  size:
    inputs:
      clean: {{path: clean/, each: "{{day}}.csv"}}
    code: [step.py]
    command: ["{python}", step.py, sum, size, "{{{{ inputs.clean }}}}", "{{{{ outputs.size }}}}"]
    outputs: {{size: size/}}
  total:
    inputs:
      size: size/
    code: [step.py]
    command: ["{python}", step.py, sum, total, "{{{{ inputs.size }}}}", "{{{{ outputs.total }}}}"]
    outputs: {{total: total/}}
"""

DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")


def make_project(root: Path, *, days: tuple[str, ...] = DAYS) -> Path:
    """Write the project; returns the path of its calls.log."""
    write(root, {"pipeline.yaml": PIPELINE.format(python=sys.executable), "step.py": STEP})
    for day in days:
        write(root, {f"data/raw/{day}.csv": f"day,{day}\n"})
    return root / "calls.log"


def calls(log: Path) -> list[str]:
    """The executions so far, then forget them."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return lines
