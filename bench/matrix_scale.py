"""How `kite validate` scales with the number of matrix-expanded stages: the curve.

Usage: python bench/matrix_scale.py [--runs 3] [--sizes 100,1000,10000]

Each size is one stage whose matrix expands to that many variants, each writing a folder of
its own (the checks compare every output with every other, and every input with every
output); "cold" forgets `.kite/validated` before each run, so each pays for every check.
Prints the median wall time and peak memory per size.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIPELINE = """\
kite: 1
name: scale
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  train:
    matrix: {{a: {a}, b: [b0, b1, b2, b3, b4, b5, b6, b7, b8, b9]}}
    command: [echo, "{{{{ matrix.a }}}}", "{{{{ outputs.model }}}}"]
    outputs:
      model:
        path: "models/{{{{ matrix.a }}}}-{{{{ matrix.b }}}}/"
"""


def one(folder: Path) -> tuple[float, int]:
    shutil.rmtree(folder / ".kite", ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kitecli", "validate"],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kite-matrix-") as tmp:
        for size in map(int, args.sizes.split(",")):
            folder = Path(tmp, str(size))
            folder.mkdir()
            values = json.dumps([str(i) for i in range(size // 10)])
            (folder / "pipeline.yaml").write_text(PIPELINE.format(a=values))
            times = [one(folder) for _ in range(args.runs)]
            wall = statistics.median(t for t, _ in times)
            peak = max(m for _, m in times) / 1024
            print(f"{size:>7} stages  validate {wall:6.2f} s  peak {peak:5.0f} MiB")


if __name__ == "__main__":
    main()
