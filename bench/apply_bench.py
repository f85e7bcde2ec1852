"""1,000 trivial datums applied in one run: kite vs make -j2 vs snakemake --cores 2.

Usage: python bench/apply_bench.py [--jobs 1000] [--repeat 3] [--no-snakemake] [--against CHECKOUT]

Each tool gets the same job set in a fresh folder: one input file per job, and a job that
`touch`es one output file. Times are whole commands (interpreter start included), median of
--repeat fresh runs. snakemake is installed into a virtual environment of its own under
`~/.cache/kite-bench` the first time (it is not a kite dependency).
"""

from __future__ import annotations

import argparse
import os
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
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  touch:
    inputs: {src: {path: in/, each: "{n}.txt"}}
    command: [touch, "{{ outputs.out }}/{{ datum.n }}.done"]
    outputs: {out: out/}
"""

MAKEFILE = """\
SRC := $(wildcard in/*.txt)
OUT := $(patsubst in/%.txt,out/%.done,$(SRC))
all: $(OUT)
out/%.done: in/%.txt | out
\ttouch $@
out:
\tmkdir -p out
"""

SNAKEFILE = """\
import glob, os
NS = [os.path.basename(p)[:-4] for p in glob.glob("in/*.txt")]
rule all:
    input: expand("out/{n}.done", n=NS)
rule touch:
    input: "in/{n}.txt"
    output: "out/{n}.done"
    shell: "touch {output}"
"""


def inputs(folder: Path, jobs: int) -> None:
    folder.mkdir(parents=True)
    for n in range(jobs):
        (folder / f"{n:05d}.txt").write_text(f"{n}\n")


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def kite_once(scratch: Path, jobs: int, checkout: Path | None = None) -> float:
    """One apply; with `checkout`, of that checkout of kite (its code first on the path)."""
    project = Path(tempfile.mkdtemp(dir=scratch))
    (project / "pipeline.yaml").write_text(PIPELINE)
    inputs(project / "data" / "in", jobs)
    other = ["env", f"PYTHONPATH={checkout.resolve()}"] if checkout else []
    elapsed = timed([*other, *KITE, "apply", "--parallel", "2"], project)
    done = len(list((project / "data" / "out").iterdir()))
    assert done == jobs, f"kite made {done} of {jobs} outputs"
    return elapsed


def make_once(scratch: Path, jobs: int) -> float:
    project = Path(tempfile.mkdtemp(dir=scratch))
    (project / "Makefile").write_text(MAKEFILE)
    inputs(project / "in", jobs)
    return timed(["make", "-s", "-j2"], project)


def snakemake_once(scratch: Path, jobs: int, snakemake: Path) -> float:
    project = Path(tempfile.mkdtemp(dir=scratch))
    (project / "Snakefile").write_text(SNAKEFILE)
    inputs(project / "in", jobs)
    return timed([str(snakemake), "--cores", "2", "--quiet"], project)


def install_snakemake() -> Path:
    """snakemake, in a virtual environment of its own outside the checkout (made once)."""
    venv = Path.home() / ".cache" / "kite-bench" / "snakemake-venv"
    binary = venv / "bin" / "snakemake"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "snakemake"], check=True)
    return binary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-snakemake", action="store_true")
    parser.add_argument(
        "--scratch", type=Path, default=Path(tempfile.gettempdir()) / "kite-apply-bench"
    )
    parser.add_argument("--against", type=Path, help="another checkout of kite, run as well")
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=args.scratch))
    results: dict[str, list[float]] = {"kite apply --parallel 2": [], "make -j2": []}
    if args.against:
        results["other kite (--against)"] = []
    for _ in range(args.repeat):  # the tools take turns, so load falls on each alike
        results["kite apply --parallel 2"].append(kite_once(work, args.jobs))
        results["make -j2"].append(make_once(work, args.jobs))
        if args.against:
            results["other kite (--against)"].append(kite_once(work, args.jobs, args.against))
    if not args.no_snakemake:
        snakemake = install_snakemake()
        results["snakemake --cores 2"] = [
            snakemake_once(work, args.jobs, snakemake) for _ in range(args.repeat)
        ]
    shutil.rmtree(work)
    kite = statistics.median(results["kite apply --parallel 2"])
    print(f"{args.jobs} trivial datums, median of {args.repeat}, {os.cpu_count()} cores")
    print(f"{'tool':<26} {'median s':>9} {'kite / tool':>12}")
    for tool, times in results.items():
        median = statistics.median(times)
        print(f"{tool:<26} {median:>9.2f} {kite / median:>12.2f}")


if __name__ == "__main__":
    main()
