"""A 3-stage per-file pipeline of 200 datums with skewed durations: kite apply against
`make -j2` and `snakemake --cores 2` on the same work, side by side in one run.

Usage (from the repository root, with kite's virtualenv):

    .venv/bin/python bench/skewed_bench.py [--datums 200] [--base 0.05] [--slow-every 20]
                                           [--repeat 3] [--no-snakemake] [--against CHECKOUT]

Each datum is one input file holding how long each of its steps sleeps: `--base` seconds,
and 10x that for 1 datum in `--slow-every` (the last of each group, so a stage run as a
whole ends on a slow one). Stages a, b and c each sleep that long and copy the file on
(in/ -> a/ -> b/ -> c/). The same work is written as a pipeline.yaml, a Makefile and a
Snakefile; each tool runs in a fresh folder, the tools take turns round by round, and
wall and CPU seconds (of the command and its children) are medians of `--repeat` rounds.
The ideal on 2 cores is half the sum of all sleeps (printed). snakemake is not a kite
dependency: it is installed on first use into a virtual environment of its own under
`~/.cache/kite-bench` (`--snakemake PATH` uses another).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apply_bench import install_snakemake

KITE = [sys.executable, "-m", "kitecli"]
# step.sh STAGE IN OUT, the same for every tool: sleeps the seconds on IN's first line and
# writes IN with the stage's name added, so each stage's command and output are its own (the
# same command on the same bytes would be a run-cache hit for kite, and no work)
STEP = 'sleep "$(head -n 1 "$2")" && { cat "$2"; echo "$1"; } > "$3"\n'

PIPELINE = """\
kite: 1
name: skewed
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
{stages}"""
STAGE = """\
  {name}:
    inputs: {{src: {{path: {src}/, each: "{{n}}.txt"}}}}
    command:
      [sh, step.sh, {name}, "{{{{ inputs.src.file }}}}",
       "{{{{ outputs.out }}}}/{{{{ datum.n }}}}.txt"]
    outputs: {{out: {name}/}}
"""
MAKEFILE = """\
N := $(patsubst in/%.txt,%,$(wildcard in/*.txt))
all: $(patsubst %,c/%.txt,$(N))
a/%.txt: in/%.txt
\t@mkdir -p a && sh step.sh a $< $@
b/%.txt: a/%.txt
\t@mkdir -p b && sh step.sh b $< $@
c/%.txt: b/%.txt
\t@mkdir -p c && sh step.sh c $< $@
"""
SNAKEFILE = """\
import glob, os
NS = sorted(os.path.basename(p)[:-4] for p in glob.glob("in/*.txt"))
rule all:
    input: expand("c/{n}.txt", n=NS)
rule a:
    input: "in/{n}.txt"
    output: "a/{n}.txt"
    shell: "sh step.sh a {input} {output}"
rule b:
    input: "a/{n}.txt"
    output: "b/{n}.txt"
    shell: "sh step.sh b {input} {output}"
rule c:
    input: "b/{n}.txt"
    output: "c/{n}.txt"
    shell: "sh step.sh c {input} {output}"
"""
STAGES = (("a", "in"), ("b", "a"), ("c", "b"))


def durations(datums: int, base: float, every: int) -> list[float]:
    return [base * 10 if n % every == every - 1 else base for n in range(datums)]


def inputs(folder: Path, sleeps: list[float]) -> None:
    folder.mkdir(parents=True)
    for n, seconds in enumerate(sleeps):
        (folder / f"{n:04d}.txt").write_text(f"{seconds}\n")


def kite_project(folder: Path, sleeps: list[float]) -> tuple[list[str], Path]:
    (folder / "step.sh").write_text(STEP)
    stages = "".join(STAGE.format(name=n, src=s) for n, s in STAGES)
    (folder / "pipeline.yaml").write_text(PIPELINE.format(stages=stages))
    inputs(folder / "data" / "in", sleeps)
    return [*KITE, "apply", "--parallel", "2"], folder / "data" / "c"


def against(checkout: Path, argv: list[str], done: Path) -> tuple[list[str], Path]:
    """The same kite command, run from another checkout of kite (its code first on the path)."""
    return ["env", f"PYTHONPATH={checkout.resolve()}", *argv], done


def make_project(folder: Path, sleeps: list[float]) -> tuple[list[str], Path]:
    (folder / "step.sh").write_text(STEP)
    (folder / "Makefile").write_text(MAKEFILE)
    inputs(folder / "in", sleeps)
    return ["make", "-s", "-j2"], folder / "c"


def snakemake_project(folder: Path, sleeps: list[float], binary: Path) -> tuple[list[str], Path]:
    (folder / "step.sh").write_text(STEP)
    (folder / "Snakefile").write_text(SNAKEFILE)
    inputs(folder / "in", sleeps)
    return [str(binary), "--cores", "2", "--quiet"], folder / "c"


def timed(argv: list[str], cwd: Path, done: Path, datums: int) -> tuple[float, float]:
    """Wall and CPU seconds (the command and all its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    ran = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if ran.returncode:
        raise SystemExit(f"{argv[0]} failed ({ran.returncode}): {ran.stderr.decode()[-2000:]}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    made = len(list(done.iterdir()))
    assert made == datums, f"{argv[0]} made {made} of {datums} outputs"
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datums", type=int, default=200)
    parser.add_argument("--base", type=float, default=0.05, help="seconds of a step")
    parser.add_argument("--slow-every", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-snakemake", action="store_true")
    parser.add_argument("--snakemake", type=Path, help="a snakemake to use")
    parser.add_argument("--against", type=Path, help="another checkout of kite, run as well")
    args = parser.parse_args()
    sleeps = durations(args.datums, args.base, args.slow_every)
    tools = {"kite apply --parallel 2": kite_project, "make -j2": make_project}
    if args.against:
        tools["other kite (--against)"] = lambda f, s: against(args.against, *kite_project(f, s))
    if not args.no_snakemake:
        binary = args.snakemake or install_snakemake()
        tools["snakemake --cores 2"] = lambda f, s: snakemake_project(f, s, binary)
    scratch = Path(tempfile.mkdtemp(prefix="kite-skewed-bench-"))
    times: dict[str, list[tuple[float, float]]] = {tool: [] for tool in tools}
    loads = [os.getloadavg()[0]]
    try:
        for round_ in range(args.repeat):
            for tool, make in tools.items():
                folder = scratch / f"{round_}-{len(times[tool])}-{tool.split()[0]}"
                folder.mkdir()
                argv, done = make(folder, sleeps)
                times[tool].append(timed(argv, folder, done, args.datums))
                loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(args, sleeps, times, loads)


def report(
    args: argparse.Namespace,
    sleeps: list[float],
    times: dict[str, list[tuple[float, float]]],
    loads: list[float],
) -> None:
    ideal = len(STAGES) * sum(sleeps) / 2
    print(
        f"{args.datums} datums x {len(STAGES)} stages, {args.base:g} s a step, 10x for 1 in "
        f"{args.slow_every}; ideal on 2 slots {ideal:.2f} s; median of {args.repeat}; "
        f"load average {min(loads):.1f}-{max(loads):.1f}"
    )
    make = statistics.median(w for w, _ in times["make -j2"])
    print(f"{'tool':<26} {'wall s':>8} {'CPU s':>7} {'wall / make':>12}")
    for tool, found in times.items():
        wall = statistics.median(w for w, _ in found)
        cpu = statistics.median(c for _, c in found)
        print(f"{tool:<26} {wall:>8.2f} {cpu:>7.2f} {wall / make:>12.2f}")


if __name__ == "__main__":
    main()
