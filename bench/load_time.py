"""Start-up and load time of `kite validate` and of loading a pipeline: medians of N runs.

Usage: python bench/load_time.py [--runs 15] [PIPELINE]

"cold" forgets the record of earlier validations (`.kite/validated`) before each run, so
every run pays for the schema and CEL checks; "warm" keeps it, as `kite plan` will see it
on every call after the first.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "examples" / "weather" / "pipeline.yaml"
LOAD = "import sys, pathlib; from kitecli import spec; spec.load(pathlib.Path(sys.argv[1]))"


def timed(argv: list[str], *, cwd: Path, runs: int, before: Callable[[], None]) -> list[float]:
    """Wall-clock seconds of `runs` runs of `argv`, calling `before` ahead of each."""
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)  # warm the OS caches
    seconds = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("pipeline", nargs="?", type=Path, default=DEFAULT)
    args = parser.parse_args()
    pipeline = args.pipeline.resolve()
    record = pipeline.parent / ".kite" / "validated"

    def forget() -> None:
        record.unlink(missing_ok=True)

    def keep() -> None:
        pass

    python = sys.executable
    cases = [
        ("python -c pass (interpreter floor)", [python, "-c", "pass"], keep),
        ("kite --version (CLI import floor)", [python, "-m", "kitecli", "--version"], keep),
        ("kite validate, cold", [python, "-m", "kitecli", "validate", str(pipeline)], forget),
        ("kite validate, warm", [python, "-m", "kitecli", "validate", str(pipeline)], keep),
        ("spec.load, cold", [python, "-c", LOAD, str(pipeline)], forget),
        ("spec.load, warm", [python, "-c", LOAD, str(pipeline)], keep),
    ]
    print(f"{pipeline} — median (min) of {args.runs} runs")
    for label, argv, before in cases:
        seconds = timed(argv, cwd=pipeline.parent, runs=args.runs, before=before)
        median, best = statistics.median(seconds) * 1000, min(seconds) * 1000
        print(f"  {label:<38} {median:6.0f} ms  ({best:.0f} ms)")


if __name__ == "__main__":
    main()
