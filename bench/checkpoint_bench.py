"""One checkpoint of a long apply at 2 stages x 100,000 datums, this checkout side by side
with an earlier revision, process by process in turn.

A checkpoint is what `kite apply` does every 30 seconds while datums finish: record the
datums that finished since the last one (`Runner._set_record`), write the state and the
commit (`ledger.commit`) and rewrite kite.lock (`ledger.write_lock`). The script commits a
state of `--stages` stages of `--datums` one-file datums once (not timed), then times
checkpoints that each record `--changed` finished datums and place their new output files,
`--repeat` checkpoints in one process as an apply makes them (its data root's listing held
from one to the next, the first checkpoint a warm-up), `--processes` such processes per
revision, taking turns (`--before REV` runs the same steps from a worktree of REV). Run
from the repository root:

    .venv/bin/python bench/checkpoint_bench.py [--before REV] [--datums 100000] [--changed 1]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PIPELINE = """\
kite: 1
name: bench
environments:
  prod: {data: ./data, metadata: ./meta}
stages:
"""
STAGE = """\
  s{i}:
    inputs: {{raw: {{path: {src}/, each: "{{n}}.csv"}}}}
    command: [cp, "{{{{ inputs.raw }}}}", "{{{{ outputs.out }}}}"]
    outputs: {{out: s{i}/}}
"""


def digest(text: str) -> str:
    from kitecli.scan.hashing import digest_bytes

    return digest_bytes(text.encode())


def setup(project: Path, stages: int, datums: int) -> None:
    """The project, and one commit of a state with every datum succeeded."""
    from kitecli.history import ledger
    from kitecli.history.state import DatumRecord, EnvState, StageState
    from kitecli.scan.manifest import FileEntry

    (project / "pipeline.yaml").write_text(
        PIPELINE
        + "".join(STAGE.format(i=i, src=f"s{i - 1}" if i else "raw") for i in range(stages))
    )
    pipeline, repo = _open(project)
    files: dict[str, FileEntry] = {}
    state = {}
    for i in range(stages):
        table = {}
        for n in range(datums):
            out = f"s{i}/{n}.csv"
            files[out] = FileEntry(digest(out), 12)
            table[f"n={n}"] = DatumRecord(
                key={"n": str(n)},
                fingerprint=digest(f"fp{i}/{n}"),
                status="succeeded",
                inputs={f"{'raw' if i == 0 else f's{i - 1}'}/{n}.csv": digest(f"in{n}")},
                outputs={out: files[out]},
                run="r0",
            )
        state[f"s{i}"] = StageState(definition=digest(f"def{i}"), datums=table)
    env = EnvState(env="prod", stages=state)
    commit, _ref = ledger.commit(
        repo,
        env="prod",
        expected=repo.ref("prod"),
        state=env,
        run=None,
        pipeline=pipeline.digest,
        user="bench",
        message="setup",
    )
    ledger.write_lock(pipeline, env, files, commit=commit)
    (project / "files.pickle").write_bytes(pickle.dumps(files))


def _open(project: Path):  # type: ignore[no-untyped-def]
    from kitecli.spec.loader import load
    from kitecli.store import open_repo

    pipeline = load(project / "pipeline.yaml")
    return pipeline, open_repo(str(project / "meta"))


def checkpoints(project: Path, changed: int, process: int, rounds: int) -> list[float]:
    """Seconds of each of `rounds` checkpoints of one apply process, each recording
    `changed` finished datums of the last stage."""
    from kitecli.history import ledger
    from kitecli.run.runner import Runner

    pipeline, repo = _open(project)
    state, ref = ledger.read_state(repo, "prod")
    files = pickle.loads((project / "files.pickle").read_bytes())
    try:  # what the runner holds: the data root's files, their tree kept up to date
        from kitecli.scan.listing import Listing

        files = Listing(files)
        files.manifest()  # the runner asks for the tree before each stage starts
    except ImportError:  # a revision before it: a plain mapping, the tree built per lock
        pass
    runner = types.SimpleNamespace(stages=dict(state.stages))
    took = []
    for round_ in range(process * 1000 + 1, process * 1000 + rounds + 1):
        start = time.perf_counter()
        for record in _finished(state, files, changed, round_):
            Runner._set_record(runner, record[0], record[1], record[2])  # type: ignore[arg-type]
        new = dataclasses_replace(state, runner.stages)
        commit, ref = ledger.commit(
            repo,
            env="prod",
            expected=ref,
            state=new,
            run=None,
            pipeline=pipeline.digest,
            user="bench",
            message=f"checkpoint {round_}",
        )
        ledger.write_lock(pipeline, new, files, commit=commit)
        took.append(time.perf_counter() - start)
    return took


def _finished(state, files, changed: int, round_: int):  # type: ignore[no-untyped-def]
    """(stage, datum id, record) of `changed` datums of the last stage that ran again and
    wrote new bytes, and their files placed."""
    from kitecli.history.state import DatumRecord
    from kitecli.scan.manifest import FileEntry

    last = sorted(state.stages)[-1]
    total = len(state.stages[last].datums)
    for j in range(changed):
        n = (round_ * 7919 + j * 104729) % total
        out = f"{last}/{n}.csv"
        files[out] = FileEntry(digest(f"out{round_}/{n}"), 12 + round_)
        record = DatumRecord(
            key={"n": str(n)},
            fingerprint=digest(f"new{round_}/{n}"),
            status="succeeded",
            inputs={f"s0/{n}.csv": digest(f"in{n}")},
            outputs={out: files[out]},
            run=f"r{round_}",
        )
        yield last, f"n={n}", record


def dataclasses_replace(state, stages):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(state, stages=stages)


def run_in(source: Path, *argv: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(source))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *argv],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=source,
    )
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the revision to compare with")
    parser.add_argument("--stages", type=int, default=2)
    parser.add_argument("--datums", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="checkpoints timed per process")
    parser.add_argument("--processes", type=int, default=2, help="apply processes per revision")
    parser.add_argument("--step", nargs=2, metavar=("WHAT", "PROJECT"), help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # one step in a process of its own, from the checkout on PYTHONPATH
        what, project = args.step[0], Path(args.step[1])
        if what == "setup":
            setup(project, args.stages, args.datums)
        else:
            print(
                " ".join(
                    f"{t:.4f}"
                    for t in checkpoints(project, args.changed, args.round, args.repeat + 1)
                )
            )
        return
    scratch = Path(tempfile.mkdtemp(prefix="kite-checkpoint-bench-"))
    sources = {"this": ROOT}
    try:
        if args.before:
            old = scratch / "before"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "-q",
                    "--detach",
                    str(old),
                    args.before,
                ],
                check=True,
            )
            sources = {args.before[:12]: old, "this": ROOT}
        projects = {}
        for name, source in sources.items():
            projects[name] = scratch / f"project-{name}"
            projects[name].mkdir()
            common = ["--stages", str(args.stages), "--datums", str(args.datums)]
            run_in(source, *common, "--step", "setup", str(projects[name]))
        times: dict[str, list[float]] = {name: [] for name in sources}
        for process in range(args.processes):  # the revisions in turn, one apply process each
            for name, source in sources.items():
                step = ["--changed", str(args.changed), "--repeat", str(args.repeat)]
                step += ["--round", str(process)]
                found = run_in(source, *step, "--step", "checkpoint", str(projects[name]))
                times[name] += [float(t) for t in found.split()][1:]  # the first: a warm-up
        print(
            f"{args.stages} stages x {args.datums} datums, {args.changed} changed per checkpoint;"
            f" seconds, median of {args.repeat * args.processes}"
            f" (load average {os.getloadavg()[0]:.1f})"
        )
        for name, found in times.items():
            print(f"{name:<14} {statistics.median(found):8.3f}  (min {min(found):.3f})")
    finally:
        if args.before:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(scratch / "before")]
            )
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
