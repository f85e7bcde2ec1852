"""Wall time of `kite apply` on a skewed pipeline: datums flowing across stages against a run
stage by stage (`--parallel 1` is no comparison: it runs one datum at a time).

Three per-file stages a → b → c over N days; a's first day and b's second day sleep
`--slow` seconds, every other datum `--fast`. Stage by stage this takes about a's slowest +
b's slowest + c's; when datums flow, about the longest chain of datums.

    .venv/bin/python bench/flow_bench.py [--days 8] [--slow 3] [--fast 0.2] [--parallel 4]
        [--against CHECKOUT]   # also time the kite of another checkout (its kitecli/)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = """\
import os, sys, time
from pathlib import Path

stage, src, out = sys.argv[1:4]
for p in sorted(Path(src).rglob("*.csv")):
    slow = {"a": "d01", "b": "d02"}.get(stage) == p.stem
    time.sleep(float(os.environ["SLOW" if slow else "FAST"]))
    Path(out, p.name).write_text(p.read_text() + stage + "\\n")
"""

STAGE = """\
  {name}:
    inputs: {{src: {{path: {src}/, each: "{{day}}.csv"}}}}
    code: [step.py]
    command: ["{python}", step.py, {name}, "{{{{ inputs.src }}}}", "{{{{ outputs.out }}}}"]
    outputs: {{out: {name}/}}
"""


def project(root: Path, days: int) -> None:
    stages = "".join(
        STAGE.format(name=n, src=s, python=sys.executable)
        for n, s in (("a", "raw"), ("b", "a"), ("c", "b"))
    )
    head = "kite: 1\nname: flowbench\nenvironments:\n  dev: {data: ./data, metadata: ./meta}\n"
    (root / "pipeline.yaml").write_text(head + "stages:\n" + stages)
    (root / "step.py").write_text(STEP)
    (root / "data/raw").mkdir(parents=True)
    for day in range(1, days + 1):
        (root / f"data/raw/d{day:02d}.csv").write_text(f"d{day:02d}\n")


def timed(checkout: Path, args: argparse.Namespace) -> float:
    root = Path(tempfile.mkdtemp(prefix="kite-flow-bench-"))
    try:
        project(root, args.days)
        env = {**os.environ, "PYTHONPATH": str(checkout), "SLOW": args.slow, "FAST": args.fast}
        began = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "kitecli", "apply", "--parallel", str(args.parallel)],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.monotonic() - began
    finally:
        shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--slow", default="3")
    parser.add_argument("--fast", default="0.2")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--against", type=Path, help="another checkout, to compare")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    for name, checkout in (("this", here), ("against", args.against)):
        if checkout is not None:
            print(f"{name}: {timed(checkout, args):.1f} s wall", flush=True)


if __name__ == "__main__":
    main()
