"""`kite plan` with nothing to do on 10,000 one-file datums, side by side with `snakemake -n`.

Builds a scratch project (10,000 input files, their 10,000 outputs, and the committed state
`kite apply` would have recorded for them), then times whole processes: `kite plan` (a small
driver hands it the committed state, as the metadata repo reader will) and `snakemake -n` on
the equivalent 10,000-job workflow. snakemake is installed into a throw-away virtual
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

from kitecli import fingerprint, spec
from kitecli.datums import stage_datums
from kitecli.manifest import scan
from kitecli.plan import make_plan, recorded_inputs
from kitecli.planning import scan_data
from kitecli.state import DatumRecord, EnvState, StageState, to_json

PIPELINE = """\
kite: 1
name: bench
environments:
  prod: {data: ./data}
stages:
  clean:
    inputs: {raw: {path: raw/, each: "{n}.csv"}}
    command: [cp, "{{ inputs.raw }}", "{{ outputs.clean }}"]
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

# `kite plan`, handed the committed state from a JSON file (what the metadata repo holds).
DRIVER = """\
import json, sys
from kitecli import planning, state
from kitecli.cli.main import run

committed = state.from_json(json.loads(open(sys.argv[1]).read()))
planning.plan.__kwdefaults__["state_reader"] = lambda env: committed
sys.exit(run(sys.argv[2:]))
"""


def build(root: Path, datums: int) -> None:
    """The project, its data and the state an apply of every datum would have committed."""
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "Snakefile").write_text(SNAKEFILE.format(datums=datums))
    (root / "driver.py").write_text(DRIVER)
    for folder in ("raw", "clean"):
        (root / "data" / folder).mkdir(parents=True)
    for n in range(datums):
        (root / f"data/raw/{n}.csv").write_text(f"{n},reading\n")
    time.sleep(0.05)  # outputs strictly newer than inputs, as make and snakemake want
    for n in range(datums):
        (root / f"data/clean/{n}.csv").write_text(f"{n},clean\n")
    pipeline = spec.load(root / "pipeline.yaml")
    stage = pipeline.stages["clean"]
    outputs = scan(root / "data/clean").files
    definition = fingerprint.definition(stage, params={}, code={})
    records = {}
    for datum in stage_datums(stage, scan_data(root / "data", ["raw"]), today=_today()).datums:
        out = f"clean/{datum.key['n']}.csv"
        records[datum.id] = DatumRecord(
            datum.key,
            fingerprint.datum_fingerprint(definition.fingerprint, datum),
            "succeeded",
            recorded_inputs(stage, datum),
            {out: outputs[out.removeprefix("clean/")]},
        )
    committed = EnvState(
        "prod",
        "b3:" + "0" * 64,
        pipeline.digest,
        {"clean": StageState(definition.fingerprint, definition.parts, records)},
    )
    (root / "state.json").write_text(json.dumps(to_json(committed)))
    check = make_plan(
        pipeline,
        env="prod",
        state=committed,
        data=scan_data(root / "data", ["raw", "clean"]),
        code={},
        today=_today(),
    )
    assert not check.changes, "the committed state should leave nothing to do"


def _today():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.date.today()


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
import datetime as dt, gc, json, sys, time
start = time.process_time()
laps = []
def lap(name):
    global start
    now = time.process_time()
    laps.append((name, now - start))
    start = now
from kitecli import planning, spec, state
from kitecli.cli.plan import render
from kitecli.plan import make_plan
lap("imports")
gc.disable()
committed = state.from_json(json.loads(open("state.json").read()))
lap("read state (JSON)")
pipeline = spec.load(None)
lap("load pipeline")
env = planning.choose_environment(pipeline, None)
data = planning.scan_data(planning.data_root(env), ["raw", "clean"])
lap("scan data")
plan = make_plan(pipeline, env="prod", state=committed, data=data, code={}, today=dt.date.today())
lap("make_plan")
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
        kite = [sys.executable, "driver.py", "state.json", "plan"]
        rows = [("kite plan", timed(kite, root, args.repeat, f"{args.datums} unchanged"))]
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
