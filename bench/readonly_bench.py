"""What read-only input views cost per attempt: starting `true` with and without them.

Usage: python bench/readonly_bench.py [--attempts 300] [--inputs 2]

Starts `--attempts` processes through `readonly.start`, each with `--inputs` views of
folders of a scratch data root to protect (finding them included), and as many without
(KITE_READONLY_VIEWS=0), alternating rounds of 50 so load falls on both alike. Prints
wall time and kite's own CPU time (user + system of this process: the thread, the unshare
and the mounts) per attempt, best of the rounds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from kitecli.executors import readonly

ROUND = 50


def one_round(views: list[str], work: str, *, on: bool) -> tuple[float, float]:
    os.environ[readonly.SETTING] = "1" if on else "0"
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(ROUND):
        readonly.start(views, work, lambda: subprocess.Popen(["true"])).wait()
    return (time.perf_counter() - wall) / ROUND, (time.process_time() - cpu) / ROUND


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=300)
    parser.add_argument("--inputs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch, "work")
        views = []
        for n in range(args.inputs):  # a whole-directory view of each folder: one link
            folder = Path(scratch, "data", f"in{n}")
            folder.mkdir(parents=True)
            (work / "in").mkdir(parents=True, exist_ok=True)
            (work / "in" / f"in{n}").symlink_to(folder, target_is_directory=True)
            views.append(str(work / "in" / f"in{n}"))
        best: dict[bool, tuple[float, float]] = {}
        for _ in range(max(1, args.attempts // ROUND)):
            for on in (False, True):
                found = one_round(views, str(work), on=on)
                best[on] = min(best.get(on, found), found)
        if readonly.unavailable():
            print(f"read-only views unavailable here: {readonly.unavailable()}")
        for on, (wall, cpu) in sorted(best.items()):
            label = "read-only views" if on else "plain start   "
            print(f"{label}  {wall * 1000:6.2f} ms wall  {cpu * 1000:6.2f} ms kite CPU / attempt")


if __name__ == "__main__":
    main()
