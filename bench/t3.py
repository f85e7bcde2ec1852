"""Time `kite hash` on T3 (1,000,000 files) side by side with b3sum and git status.

The same cases as bench/bench.py, for a tree ten times T2: cold (an empty stat cache)
against b3sum over the same files, nothing changed against `git status` with a warm
index, one file changed, and the peak memory of both kite runs. Prints a Markdown table.

    python bench/t3.py --work /some/scratch/dir [--cold-runs 1] [--runs 5] [--against KITE]

Generating T3 (~4 GB on disk) and committing it to git take minutes: both are done once
under `--work` and resumed where they stopped when interrupted (gentree writes whole top
folders; a commit that is missing is made again from the start).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gentree import SHAPES, generate

from bench import Bench, pairs, peak_mib, report, settle

NAME = "T3"
CASES = ["cold", "unchanged", "one_changed", "against", "memory"]


class Big(Bench):
    """bench/bench.py's cases with a resumable T3 and fewer cold runs (each takes minutes)."""

    def __init__(self, work: Path, kite: str, runs: int, cold_runs: int) -> None:
        super().__init__(work, kite, runs)
        self.cold_runs = cold_runs

    def tree(self, name: str) -> Path:
        data = self.work / name / "data"
        print(f"generating {name} in {data} (resumed if begun) ...", file=sys.stderr)
        generate(data, SHAPES[name])
        head = subprocess.run(
            self.git(name, "rev-parse", "-q", "--verify", "HEAD"),
            cwd=data,
            capture_output=True,
            check=False,
        )
        if head.returncode != 0:
            print(f"committing {name} to git ...", file=sys.stderr)
            (self.work / name / ".git" / "index.lock").unlink(missing_ok=True)  # a killed add
            for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", name)):
                command = self.git(name, "-c", "user.name=b", "-c", "user.email=b@b", *args)
                subprocess.run(command, cwd=data, check=True)
        subprocess.run(self.git(name, "status", "-s"), cwd=data, check=True)  # warm the index
        return data

    def git(self, name: str, *args: str) -> list[str]:
        """The git command line for the tree's scratch repo, `<work>/T3` holding data/."""
        folder = self.work / name
        return ["git", f"--git-dir={folder / '.git'}", f"--work-tree={folder}", *args]

    def against(self, name: str, data: Path, other: str) -> None:
        """This kite against another build of it with nothing changed (cold takes minutes)."""
        settle(data)
        self.hashed(data)
        kite, theirs, ratio, cpu = pairs(
            [self.kite, "hash", "data"],
            [other, "hash", "data"],
            runs=self.runs * 2,
            cwd=data.parent,
            env=self.env,
        )
        self.add(
            name, "nothing changed, against the other kite", kite, theirs, "other kite", ratio, cpu
        )

    def cold(self, name: str, data: Path) -> None:
        """`cold_runs` pairs after one untimed b3sum that brings the files into the page cache
        (a warm-up pair would take minutes)."""
        b3sum = ["sh", "-c", "find data -type f -print0 | xargs -0 b3sum"]
        subprocess.run(b3sum, cwd=data.parent, stdout=subprocess.DEVNULL, check=True)
        kite, other, ratio, cpu = pairs(
            [self.kite, "hash", "data"],
            b3sum,
            runs=self.cold_runs,
            cwd=data.parent,
            env=self.env,
            before_kite=self.clear_cache,
            warmup=0,
        )
        self.add(name, "cold (empty stat cache)", kite, other, "b3sum", ratio, cpu)

    def memory(self, name: str, data: Path) -> None:
        self.clear_cache()
        cold = peak_mib([self.kite, "hash", "data"], cwd=data.parent, env=self.env)
        settle(data)
        warm = peak_mib([self.kite, "hash", "data"], cwd=data.parent, env=self.env)
        if cold is not None and warm is not None:
            self.notes.append(
                f"{name} peak RSS (largest process): cold {cold:.0f} MiB, "
                f"nothing changed {warm:.0f} MiB"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (~10 GB)")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold pairs (minutes each)")
    parser.add_argument("--runs", type=int, default=5, help="pairs per case: 2x for no change")
    parser.add_argument("--against", metavar="KITE", help="also time another kite (before/after)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES)
    default_kite = Path(sys.executable).parent / "kite"
    parser.add_argument("--kite", default=str(default_kite) if default_kite.exists() else "kite")
    args = parser.parse_args(argv)
    for tool in ("b3sum", "git"):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed (see bench/README.md)")
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Big(args.work, args.kite, args.runs, args.cold_runs)
    data = bench.tree(NAME)
    load = os.getloadavg()
    for case in args.cases:
        if case != "against" or args.against:
            getattr(bench, case)(NAME, data, *([args.against] if case == "against" else []))
    report(bench, load)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
