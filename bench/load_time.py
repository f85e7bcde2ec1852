"""Start-up and load time of `kite validate` and of loading a pipeline: medians of N runs.

Usage: python bench/load_time.py [--runs 15] [PIPELINE]

"cold" forgets the record of earlier validations (`.kite/validated`) before each run, so
every run pays for the schema and CEL checks; "warm" keeps it, as `kite plan` will see it
on every call after the first.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "examples" / "weather" / "pipeline.yaml"
LOAD = (
    "import sys, pathlib; from kitecli.spec import loader; loader.load(pathlib.Path(sys.argv[1]))"
)


def timed(
    argv: list[str], *, cwd: Path, runs: int, before: Callable[[], None]
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of `runs` runs of `argv`.

    CPU time is what to compare on a busy machine: waiting for a core does not count.
    """
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)  # warm the OS caches
    wall, cpu = [], []
    for _ in range(runs):
        before()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime)
    return wall, cpu


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
    print(f"{pipeline.name} in {pipeline.parent.name}/: median (min) of {args.runs} runs")
    print(f"  {'':<38} {'wall':>16}  {'cpu':>16}")
    for label, argv, before in cases:
        wall, cpu = timed(argv, cwd=pipeline.parent, runs=args.runs, before=before)
        print(f"  {label:<38} {_ms(wall)}  {_ms(cpu)}")


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:6.0f} ms ({min(seconds) * 1000:4.0f})"


if __name__ == "__main__":
    main()
