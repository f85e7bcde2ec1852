"""`kite plan` with nothing to do on 10,000 one-file datums, side by side with `snakemake -n`.

Builds a scratch project of 10,000 input files and runs `kite apply` on it once (not
timed), so the outputs, the metadata repo and the stat cache are what a user has after an
apply; then times whole processes: `kite plan` and `snakemake -n` on the equivalent
10,000-job workflow. snakemake is installed into a throw-away virtual
environment on first use. Run from the repository root:

    .venv/bin/python bench/plan_bench.py [--datums 10000] [--repeat 5] [--no-snakemake]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KITE = [sys.executable, "-m", "kitecli"]

PIPELINE = """\
kite: 1
name: bench
environments:
  prod: {data: ./data}
stages:
  clean:
    inputs: {raw: {path: raw/, each: "{n}.csv"}}
    command: [cp, -rLT, "{{ inputs.raw }}", "{{ outputs.clean }}"]
    outputs: {clean: clean/}
"""

SNAKEFILE = """\
N = {datums}

rule all:
    input: expand("data/clean/{{n}}.csv", n=range(N))

rule clean:
    input: "data/raw/{{n}}.csv"
    output: "data/clean/{{n}}.csv"
    shell: "cp {{input}} {{output}}"
"""


def build(root: Path, datums: int) -> None:
    """The project and its data, applied once by kite: nothing is left to do."""
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "Snakefile").write_text(SNAKEFILE.format(datums=datums))
    (root / "data" / "raw").mkdir(parents=True)
    for n in range(datums):
        (root / f"data/raw/{n}.csv").write_text(f"{n},reading\n")
    time.sleep(0.05)  # outputs strictly newer than inputs, as make and snakemake want
    print(f"kite apply of {datums} datums (setting up, not timed) ...", file=sys.stderr)
    subprocess.run([*KITE, "apply", "--parallel", "2"], cwd=root, check=True)


def timed(argv: list[str], cwd: Path, repeat: int, expect: str) -> list[tuple[float, float]]:
    """(wall-clock, CPU) seconds of each of `repeat` runs, after one warm-up run.

    CPU time (user + system of the process and its children) is the steadier number on a
    shared machine; wall-clock time is what the user waits.
    """
    times = []
    for attempt in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0 or expect not in proc.stdout + proc.stderr:
            sys.exit(f"{argv[0]} failed or did something:\n{proc.stdout}\n{proc.stderr}")
        if attempt:
            times.append((elapsed, cpu))
    return times


PHASES = """\
import gc, json, time
start = time.process_time()
laps = []
def lap(name):
    global start
    now = time.process_time()
    laps.append((name, now - start))
    start = now
from kitecli.cli.plan import render
from kitecli.project import open_project, scan
lap("imports")
gc.disable()
project = open_project(None, None)
lap("load pipeline")
committed, _ref = project.committed()
lap("read state")
data = scan(project)
lap("scan data")
plan = project.plan(committed, data=data)
lap("plan")
render(plan)
lap("render")
print(json.dumps(laps))
"""


def phases(root: Path) -> list[tuple[str, float]]:
    """CPU seconds of each phase of one plan, measured inside one process."""
    proc = subprocess.run(
        [sys.executable, "-c", PHASES], cwd=root, capture_output=True, text=True, check=True
    )
    return [(name, seconds) for name, seconds in json.loads(proc.stdout)]


def snakemake() -> Path:
    """The snakemake executable of a throw-away virtual environment (made on first use)."""
    venv = Path(tempfile.gettempdir()) / "kite-bench-snakemake"
    exe = venv / "bin" / "snakemake"
    if not exe.exists():
        print("installing snakemake into a throw-away virtual environment ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "snakemake"], check=True)
    return exe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datums", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-snakemake", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kite-plan-bench-"))
    try:
        build(root, args.datums)
        rows = [
            ("kite plan", timed([*KITE, "plan"], root, args.repeat, f"{args.datums} unchanged"))
        ]
        if not args.no_snakemake:
            smk = [str(snakemake()), "-n", "--cores", "1", "--quiet"]
            rows.append(("snakemake -n", timed(smk, root, args.repeat, "Nothing to be done")))
        report(rows, args.datums)
        print("\nkite plan, CPU seconds per phase (one run, in one process):")
        for name, seconds in phases(root):
            print(f"  {name:<18} {seconds:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(rows: list[tuple[str, list[tuple[float, float]]]], datums: int) -> None:
    print(f"{datums} one-file datums, nothing changed: seconds per whole process")
    print(f"({os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f})")
    print(f"{'command':<14} {'wall median':>12} {'wall min':>9} {'cpu median':>11}")
    for name, times in rows:
        wall = [w for w, _ in times]
        cpu = [c for _, c in times]
        print(
            f"{name:<14} {statistics.median(wall):12.3f} {min(wall):9.3f} "
            f"{statistics.median(cpu):11.3f}"
        )
    if len(rows) == 2:
        for column, index in (("wall", 0), ("cpu", 1)):
            kite, other = ([t[index] for t in times] for _, times in rows)
            ratio = statistics.median(other) / statistics.median(kite)
            print(f"kite plan is {ratio:.1f}x faster than snakemake -n ({column} median)")


if __name__ == "__main__":
    main()
