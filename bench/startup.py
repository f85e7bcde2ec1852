"""Start-up of `kite --version`, `kite --help`, `kite hash DIR` and a no-change `kite plan`,
this checkout side by side with an earlier revision, alternating run by run.

The earlier revision is checked out into a scratch worktree and run with this checkout's
virtual environment (`python -m kitecli`, from compiled bytecode, as installed); so is this
checkout. The plan is of a scratch project of `--datums` one-file datums, applied once (not
timed). Run from the repository root:

    .venv/bin/python bench/startup.py --before REV [--datums 10000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_bench import build, once

ROOT = Path(__file__).resolve().parent.parent


def checkout(rev: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", str(where), rev], check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(where / "kitecli")], check=True)
    return where


def kite(source: Path) -> list[str]:
    """`kite` as run from the checkout at `source`."""
    return ["env", f"PYTHONPATH={source}", sys.executable, "-m", "kitecli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the revision to compare with")
    parser.add_argument("--datums", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kite-startup-bench-"))
    old = scratch / "before"
    try:
        checkout(args.before, old)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(ROOT / "kitecli")], check=True
        )
        project = scratch / "project"
        project.mkdir()
        build(project, args.datums)
        cases = [
            ("--version", ["--version"], "kite "),
            ("--help", ["--help"], "Usage"),
            ("hash data/raw", ["hash", "data/raw"], "b3:"),
            ("plan", ["plan"], f"{args.datums} unchanged"),
        ]
        print(f"seconds per whole process, medians of {args.repeat} alternating pairs")
        print(f"({os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f})")
        print(f"{'kite …':<16} {args.before[:12]:>12} {'this':>8} {'ratio':>7}")
        for name, argv, expect in cases:
            before = (f"before {name}", [*kite(old), *argv], expect)
            after = (f"this {name}", [*kite(ROOT), *argv], expect)
            once(before, project)
            once(after, project)  # warm-up, dropped
            pairs = [
                (once(before, project)[0], once(after, project)[0]) for _ in range(args.repeat)
            ]
            b = statistics.median(p[0] for p in pairs)
            a = statistics.median(p[1] for p in pairs)
            ratio = statistics.median(p[1] / p[0] for p in pairs)
            print(f"{name:<16} {b:>12.3f} {a:>8.3f} {ratio:>7.2f}")
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False
        )
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
