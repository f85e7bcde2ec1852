"""Where a no-change `kite hash` of T2 spends its time, against the floor of a Python walk.

Times, side by side in one run (alternating pairs, as bench/bench.py does):
the interpreter alone; the interpreter and kite's imports for `kite hash`; the floor (the
interpreter, an `os.scandir` walk and the lstat of every entry, in one process); the
floor against `git status`; and `kite hash` against the floor. Prints a Markdown table.

    python bench/floor.py --work /some/scratch/dir [--tree T2] [--runs 10] [--kite KITE]

Uses bench/bench.py's trees (the same `--work` folder) and needs git.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent))
from bench import Bench, measure_pairs, settle

WALK = """
import os, sys
def walk(path):
    n = 0
    with os.scandir(path) as entries:
        for entry in entries:
            entry.stat(follow_symlinks=False)
            n += walk(entry.path) if entry.is_dir(follow_symlinks=False) else 1
    return n
print(walk(sys.argv[1]))
"""
IMPORTS = "import kitecli.__main__, kitecli.cli.main, kitecli.cli.hash, kitecli.scan.scanner"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "kite-hash-bench"
    )
    parser.add_argument("--tree", default="T2")
    parser.add_argument("--runs", type=int, default=10)
    default_kite = Path(sys.executable).parent / "kite"
    parser.add_argument("--kite", default=str(default_kite) if default_kite.exists() else "kite")
    args = parser.parse_args(argv)
    bench = Bench(args.work, args.kite, args.runs)
    data = bench.tree(args.tree)
    settle(data)
    bench.hashed(data)  # fills the stat cache
    python = sys.executable
    floor = [python, "-c", WALK, "."]
    cases = [
        ("imports of `kite hash`", [python, "-c", IMPORTS], "interpreter", [python, "-c", "0"]),
        ("floor: scandir + lstat walk", floor, "git status", bench.git(args.tree, "status")),
        ("`kite hash`", [args.kite, "hash", "."], "floor", floor),
        ("`kite hash`", [args.kite, "hash", "."], "git status", bench.git(args.tree, "status")),
    ]
    load = os.getloadavg()[0]
    print("| command | s | CPU s | against | s | CPU s | ratio | CPU ratio |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for name, command, other_name, other in cases:
        mine, theirs = measure_pairs(command, other, runs=args.runs, cwd=data, env=bench.env)
        wall, cpu = (median(m[i] for m in mine) for i in (0, 1))
        other_wall, other_cpu = (median(t[i] for t in theirs) for i in (0, 1))
        both = list(zip(mine, theirs, strict=True))
        ratio, cpu_ratio = (median(m[i] / t[i] for m, t in both) for i in (0, 1))
        print(
            f"| {name} | {wall:.3f} | {cpu:.3f} | {other_name} | {other_wall:.3f} "
            f"| {other_cpu:.3f} | {ratio:.2f}x | {cpu_ratio:.2f}x |"
        )
    print(f"\nload average (1 min) before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
