"""Where a trivial datum's time goes in `kite apply`: 1,000 datums applied in this process
under cProfile, every thread profiled, the time of each phase per datum.

Usage (from the repository root, with kite's virtualenv):

    .venv/bin/python bench/apply_profile.py [--jobs 1000] [--parallel 2] [--top 0]

The project is `bench/apply_bench.py`'s (one input file per datum, a command that `touch`es
one output). Each thread's `run` gets a profiler of its own and the statistics are added up,
so a phase's seconds are summed over threads: waits of one thread overlap work of another.
`--top N` also prints the N functions of most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apply_bench import PIPELINE, inputs

# phase → (file suffix, function name) of the code that does it
PHASES = {
    "prepare: views, scratch folders (lanes.prepare)": ("run/lanes.py", "prepare"),
    "  clearing a folder before its views (links.clear)": ("store/links.py", "clear"),
    "  linking the views (link_view)": ("store/links.py", "link_view"),
    "  snapshot of the views (inplace.snapshot)": ("run/inplace.py", "snapshot"),
    "start the command (LocalExecutor.submit)": ("executors/local.py", "submit"),
    "wait for it (LocalExecutor.wait)": ("executors/local.py", "wait"),
    "collect: check, ingest into the store (Collector.collect)": ("run/collect.py", "collect"),
    "  ingest (collect.ingest)": ("run/collect.py", "ingest"),
    "  run-cache entry (ledger.cache_put)": ("history/ledger.py", "cache_put"),
    "  inputs unchanged? (inplace.changed)": ("run/inplace.py", "changed"),
    "settle: collect, empty the folder (Runner.settle)": ("run/runner.py", "settle"),
    "attempt record, log stored (Runner.record)": ("run/runner.py", "record"),
    "merge into the data root (Runner._merge)": ("run/runner.py", "_merge"),
    "  materialise (Runner._place)": ("run/runner.py", "_place"),
    "checkpoints (Runner.checkpoint)": ("run/runner.py", "checkpoint"),
}


def profiled_threads(profiles: list[cProfile.Profile]) -> None:
    """Give every thread started from now on a profiler of its own."""
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.runcall(original, self)

    threading.Thread.run = run  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    from kitecli.cli.main import run

    project = Path(tempfile.mkdtemp(prefix="kite-apply-profile-"))
    try:
        (project / "pipeline.yaml").write_text(PIPELINE)
        inputs(project / "data" / "in", args.jobs)
        os.chdir(project)
        profiles: list[cProfile.Profile] = []
        profiled_threads(profiles)
        main_profile = cProfile.Profile()
        start, cpu = time.perf_counter(), time.process_time()
        code = main_profile.runcall(run, ["apply", "--parallel", str(args.parallel)])
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert code == 0, f"kite apply exited {code}"
        out = io.StringIO()
        report(pstats.Stats(main_profile, *profiles, stream=out), args, wall, cpu, out)
    finally:
        os.chdir("/")
        shutil.rmtree(project, ignore_errors=True)


def report(
    stats: pstats.Stats, args: argparse.Namespace, wall: float, cpu: float, out: io.StringIO
) -> None:
    print(
        f"{args.jobs} datums, --parallel {args.parallel}: wall {wall:.2f} s, CPU {cpu:.2f} s "
        f"(load average {os.getloadavg()[0]:.1f}); seconds summed over threads"
    )
    print(f"{'phase':<60} {'calls':>7} {'s':>7} {'ms/datum':>9}")
    table = stats.stats  # type: ignore[attr-defined]
    for phase, (suffix, name) in PHASES.items():
        found = [v for k, v in table.items() if k[0].endswith(suffix) and k[2] == name]
        calls = sum(v[1] for v in found)
        seconds = sum(v[3] for v in found)
        print(f"{phase:<60} {calls:>7} {seconds:>7.2f} {1000 * seconds / args.jobs:>9.2f}")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)
        stats.print_callees("local.py:.*submit")
        print(out.getvalue())


if __name__ == "__main__":
    main()
