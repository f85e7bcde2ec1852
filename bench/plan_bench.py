"""`kite plan` with nothing to do on 10,000 one-file datums, side by side with `snakemake -n`.

Builds a scratch project of 10,000 input files and runs `kite apply` on it once (not
timed), so the outputs, the metadata repo and the stat cache are what a user has after an
apply; then times whole processes, alternating run by run so load from other processes
falls on both alike: the `kite` console script's `kite plan` and `snakemake -n` on the
equivalent 10,000-job workflow. kite runs from compiled bytecode, as installed.
snakemake is installed into a throw-away virtual environment on first use. Run from the
repository root:

    .venv/bin/python bench/plan_bench.py [--datums 10000] [--repeat 7] [--no-snakemake]
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

_SCRIPT = Path(sys.executable).with_name("kite")
KITE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "kitecli"]
# as installed, kite runs from compiled bytecode: never time the compiler
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}

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
    subprocess.run([*KITE, "apply", "--parallel", "2"], cwd=root, env=ENV, check=True)
    import kitecli

    package = str(Path(kitecli.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], env=ENV, check=True)


Command = tuple[str, list[str], str]  # name, argv, what its output must contain


def once(command: Command, cwd: Path) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one whole process; CPU is user + system time of the
    process and its children, the steadier number on a shared machine."""
    name, argv, expect = command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0 or expect not in proc.stdout + proc.stderr:
        sys.exit(f"{name} failed or did something:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, cpu


def alternating(commands: list[Command], cwd: Path, repeat: int) -> list[list[tuple[float, float]]]:
    """Each command's (wall, CPU) per round: one warm-up round (dropped), then `repeat`
    rounds running the commands one after the other."""
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for round_ in range(repeat + 1):
        for index, command in enumerate(commands):
            measured = once(command, cwd)
            if round_:
                times[index].append(measured)
    return times


PHASES = """\
import gc, json, time
start = time.process_time()  # CPU time since the process started
laps = [("interpreter start", start)]
def lap(name):
    global start
    now = time.process_time()
    laps.append((name, now - start))
    start = now
from kitecli.cli.planview import render
from kitecli.history.project import open_project
from kitecli.plan.planning import plan_project, scan_project
import ruamel.yaml, kitecli.spec.checks, kitecli.store.roots, kitecli.store.repo  # on the way
lap("imports")
gc.disable()
project = open_project(None, None)
lap("load pipeline")
committed, _ref = project.committed()
lap("read state")
data = scan_project(project)
lap("scan data")
plan = plan_project(project, committed, data=data)
lap("plan")
render(plan)
lap("render")
print(json.dumps(laps))
"""


def phases(root: Path, runs: int = 5) -> list[tuple[str, float]]:
    """CPU seconds of each phase of a plan, measured inside one process: medians of `runs`."""
    laps = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", PHASES],
            cwd=root,
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
        laps.append(json.loads(proc.stdout))
    names = [name for name, _ in laps[0]]
    return [(n, statistics.median(run[i][1] for run in laps)) for i, n in enumerate(names)]


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
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-snakemake", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kite-plan-bench-"))
    try:
        build(root, args.datums)
        expect = f"{args.datums} unchanged"
        commands: list[Command] = [("kite plan", [*KITE, "plan"], expect)]
        if not args.no_snakemake:
            smk = [str(snakemake()), "-n", "--cores", "1", "--quiet"]
            commands.append(("snakemake -n", smk, "Nothing to be done"))
        load = os.getloadavg()[0]
        times = alternating(commands, root, args.repeat)
        report(commands, times, args.datums, (load, os.getloadavg()[0]))
        print("\nkite plan, CPU seconds per phase (medians of 5 runs, each in one process):")
        for name, seconds in phases(root):
            print(f"  {name:<18} {seconds:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(
    commands: list[Command],
    times: list[list[tuple[float, float]]],
    datums: int,
    load: tuple[float, float],
) -> None:
    print(f"{datums} one-file datums, nothing changed: seconds per whole process")
    print(f"({os.cpu_count()} cpus, load average {load[0]:.1f} before, {load[1]:.1f} after)")
    print(f"{'command':<18} {'wall median':>12} {'wall min':>9} {'cpu median':>11} {'cpu min':>8}")
    for (name, _, _), measured in zip(commands, times, strict=True):
        wall = [w for w, _ in measured]
        cpu = [c for _, c in measured]
        print(
            f"{name:<18} {statistics.median(wall):12.3f} {min(wall):9.3f} "
            f"{statistics.median(cpu):11.3f} {min(cpu):8.3f}"
        )
    if commands[1][0] == "snakemake -n":
        for column, index in (("wall", 0), ("cpu", 1)):
            pairs = [o[index] / k[index] for k, o in zip(times[0], times[1], strict=True)]
            print(
                f"snakemake -n / kite plan, {column}: median of per-round ratios "
                f"{statistics.median(pairs):.1f}x"
            )


if __name__ == "__main__":
    main()
