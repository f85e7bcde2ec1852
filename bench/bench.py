"""Time `kite hash` side by side with b3sum, git status and dvc on the trees T1 and T2.

Each comparison alternates the two commands run by run, so load from other processes on
a shared machine falls on both alike, and reports medians and the median of the per-pair
ratios. Peak memory comes from GNU time (`/usr/bin/time -v`). Prints a Markdown table.

    python bench/bench.py --work /some/scratch/dir [--trees T1 T2] [--runs 9] [--dvc PATH]
                          [--against OTHER_KITE]

Needs b3sum and git (and /usr/bin/time for memory, dvc for --dvc): see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gentree import SHAPES, generate

Prepare = Callable[[], None]


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    tree: str
    case: str
    kite: float
    other: float
    other_name: str
    ratio: float
    cpu_ratio: float | None = None  # the same for CPU time (user + system)
    note: str = ""
    load: float = 0.0  # 1-minute load average when the case finished


def timed(command: Sequence[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system, the command and all its children) seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def pairs(
    kite: Sequence[str],
    other: Sequence[str],
    *,
    runs: int,
    cwd: Path,
    env: dict[str, str],
    before_kite: Prepare | None = None,
    before_other: Prepare | None = None,
    warmup: int = 1,
) -> tuple[float, float, float, float]:
    """Median seconds of `kite` and `other`, and the median wall and CPU ratios of pairs."""
    mine, theirs = measure_pairs(
        kite,
        other,
        runs=runs,
        cwd=cwd,
        env=env,
        before_kite=before_kite,
        before_other=before_other,
        warmup=warmup,
    )
    wall = statistics.median(a[0] / b[0] for a, b in zip(mine, theirs, strict=True))
    cpu = statistics.median(a[1] / b[1] for a, b in zip(mine, theirs, strict=True))
    return statistics.median(m[0] for m in mine), statistics.median(t[0] for t in theirs), wall, cpu


def measure_pairs(
    kite: Sequence[str],
    other: Sequence[str],
    *,
    runs: int,
    cwd: Path,
    env: dict[str, str],
    before_kite: Prepare | None = None,
    before_other: Prepare | None = None,
    warmup: int = 1,
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(wall, CPU) seconds of each run of `kite` and of `other`, alternated pair by pair."""
    mine: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for i in range(1 - warmup, runs + 1):  # the first `warmup` pairs are dropped
        for which in (0, 1) if i % 2 else (1, 0):  # alternate who goes first
            prepare = before_kite if which == 0 else before_other
            if prepare:
                prepare()
            measured = timed(kite if which == 0 else other, cwd=cwd, env=env)
            if i > 0:
                (mine if which == 0 else theirs).append(measured)
    return mine, theirs


def peak_mib(command: Sequence[str], *, cwd: Path, env: dict[str, str]) -> float | None:
    """Maximum resident set size of one run, from GNU time (None if it is not installed)."""
    if not Path("/usr/bin/time").exists():
        return None
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return int(found.group(1)) / 1024 if found else None


class Bench:
    """The scratch area: one folder per tree with its data, a git repo and kite's cache."""

    def __init__(self, work: Path, kite: str, runs: int) -> None:
        self.work = work
        self.kite = kite
        self.runs = runs
        self.env = {**os.environ, "XDG_CACHE_HOME": str(work / "xdg"), "NO_COLOR": "1"}
        # as installed, kite runs from compiled bytecode: never time the compiler
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def tree(self, name: str) -> Path:
        """The tree's data folder, generated and committed to a scratch git repo once."""
        data = self.work / name / "data"
        if not data.exists():
            print(f"generating {name} in {data} ...", file=sys.stderr)
            generate(data, SHAPES[name])
            for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", name)):
                command = self.git(name, "-c", "user.name=b", "-c", "user.email=b@b", *args)
                subprocess.run(command, cwd=data, check=True)
        return data

    def git(self, name: str, *args: str) -> list[str]:
        """The git command line for the tree's scratch repo (run it in the data folder)."""
        return ["git", f"--git-dir={self.work / name / 'git'}", "--work-tree=.", *args]

    def clear_cache(self) -> None:
        shutil.rmtree(self.work / "xdg", ignore_errors=True)

    def hashed(self, data: Path) -> str:
        proc = subprocess.run(
            [self.kite, "hash", str(data), "--stats"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stderr.strip()

    def add(
        self,
        tree: str,
        case: str,
        kite: float,
        other: float,
        name: str,
        ratio: float,
        cpu: float,
        note: str = "",
    ) -> None:
        load = os.getloadavg()[0]
        self.rows.append(Row(tree, case, kite, other, name, ratio, cpu, note, load))
        print(
            f"{tree} {case}: kite {kite:.3f}s, {name} {other:.3f}s, "
            f"ratio {ratio:.2f} cpu {cpu:.2f} load {load:.1f} {note}",
            file=sys.stderr,
        )

    def cold(self, name: str, data: Path) -> None:
        """`kite hash` with an empty stat cache against b3sum over the same files."""
        b3sum = ["sh", "-c", "find data -type f -print0 | xargs -0 b3sum"]
        kite, other, ratio, cpu = pairs(
            [self.kite, "hash", "data"],
            b3sum,
            runs=self.runs,
            cwd=data.parent,
            env=self.env,
            before_kite=self.clear_cache,
        )
        self.add(name, "cold (empty stat cache)", kite, other, "b3sum", ratio, cpu)

    def unchanged(self, name: str, data: Path) -> None:
        """`kite hash` with nothing changed against `git status`."""
        settle(data)
        self.hashed(data)  # fills the cache
        stats = self.hashed(data)
        kite, other, ratio, cpu = pairs(
            [self.kite, "hash", str(data)],
            self.git(name, "status"),
            runs=self.runs * 2,
            cwd=data,
            env=self.env,
        )
        self.add(name, "nothing changed", kite, other, "git status", ratio, cpu, stats)

    def one_changed(self, name: str, data: Path) -> None:
        """The same after one file changed (the same file, rewritten before every run)."""
        target = first_file(data)
        size = target.stat().st_size

        def touch() -> None:
            target.write_bytes(os.urandom(size))

        touch()
        stats = self.hashed(data)
        kite, other, ratio, cpu = pairs(
            [self.kite, "hash", str(data)],
            self.git(name, "status"),
            runs=self.runs * 2,
            cwd=data,
            env=self.env,
            before_kite=touch,
            before_other=touch,
        )
        self.add(name, "one file changed", kite, other, "git status", ratio, cpu, stats)
        subprocess.run(self.git(name, "checkout", "-q", "--", "."), cwd=data, check=True)

    def against(self, name: str, data: Path, other: str) -> None:
        """This kite against another build of it (e.g. main's), cold and with nothing changed."""
        kite, theirs, ratio, cpu = pairs(
            [self.kite, "hash", "data"],
            [other, "hash", "data"],
            runs=self.runs,
            cwd=data.parent,
            env=self.env,
            before_kite=self.clear_cache,
            before_other=self.clear_cache,
        )
        self.add(name, "cold, against the other kite", kite, theirs, "other kite", ratio, cpu)
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

    def memory(self, name: str, data: Path) -> None:
        self.clear_cache()
        cold = peak_mib([self.kite, "hash", "data"], cwd=data.parent, env=self.env)
        settle(data)
        self.hashed(data)
        warm = peak_mib([self.kite, "hash", "data"], cwd=data.parent, env=self.env)
        if cold is not None and warm is not None:
            self.notes.append(
                f"{name} peak RSS (largest process): cold {cold:.0f} MiB, "
                f"nothing changed {warm:.0f} MiB"
            )

    def dvc(self, name: str, data: Path, dvc: str) -> None:
        """`dvc add --no-commit` (first run: nothing cached) and `dvc status`, against kite."""
        folder = data.parent
        shutil.rmtree(folder / ".dvc", ignore_errors=True)
        (folder / "data.dvc").unlink(missing_ok=True)
        site = self.work / "dvc-site-cache"  # where dvc keeps its own stat cache
        shutil.rmtree(site, ignore_errors=True)
        env = {**self.env, "DVC_SITE_CACHE_DIR": str(site), "DVC_NO_ANALYTICS": "1"}
        subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=folder, env=env, check=True)
        self.clear_cache()
        kite_cold, kite_cpu = timed([self.kite, "hash", "data"], cwd=folder, env=env)
        dvc_add, dvc_cpu = timed([dvc, "add", "--no-commit", "-q", "data"], cwd=folder, env=env)
        self.add(
            name,
            "cold, against dvc add --no-commit",
            kite_cold,
            dvc_add,
            "dvc add",
            kite_cold / dvc_add,
            kite_cpu / dvc_cpu,
            "1 run each",
        )
        settle(data)
        self.hashed(data)
        status = ["sh", "-c", f"{dvc} status -q; true"]  # exits 1: the outputs are not committed
        kite, other, ratio, cpu = pairs(
            [self.kite, "hash", "data"], status, runs=3, cwd=folder, env=env
        )
        self.add(name, "nothing changed, against dvc status", kite, other, "dvc status", ratio, cpu)


def first_file(folder: Path) -> Path:
    """The first file of the first folder, however deep, in the order the system lists them."""
    while folder.is_dir():
        folder = next(folder.iterdir())
    return folder


def settle(data: Path) -> None:
    """Wait until every file is older than kite's racy window (2 s), as minutes-old data is."""
    newest = max(p.stat().st_mtime for p in data.rglob("*"))
    time.sleep(max(0.0, newest + 2.2 - time.time()))


BOUNDS = {
    ("T1", "cold (empty stat cache)"): 1.0,
    ("T2", "cold (empty stat cache)"): 1.3,
    ("T2", "nothing changed"): 2.0,
    ("T2", "one file changed"): 2.0,
}


def table(rows: list[Row]) -> str:
    lines = [
        "| tree | case | kite (s) | other | other (s) | kite / other | bound | within "
        "| CPU kite / other | load |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        bound = BOUNDS.get((r.tree, r.case))
        within = "" if bound is None else ("yes" if r.ratio <= bound else "**no**")
        shown = "" if bound is None else f"{bound:.1f}x"
        lines.append(
            f"| {r.tree} | {r.case} | {r.kite:.3f} | {r.other_name} | {r.other:.3f} "
            f"| {r.ratio:.2f}x | {shown} | {within} | {r.cpu_ratio:.2f}x | {r.load:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "kite-hash-bench"
    )
    parser.add_argument("--trees", nargs="+", default=["T1", "T2"], choices=sorted(SHAPES))
    parser.add_argument("--runs", type=int, default=7, help="pairs per comparison (cold)")
    parser.add_argument("--dvc", metavar="PATH", help="also time this dvc executable (slow)")
    parser.add_argument(
        "--against", metavar="KITE", help="also time this other kite executable (before/after)"
    )
    default_kite = Path(sys.executable).parent / "kite"
    parser.add_argument("--kite", default=str(default_kite) if default_kite.exists() else "kite")
    args = parser.parse_args(argv)
    for tool in ("b3sum", "git"):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed (see bench/README.md)")
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.work, args.kite, args.runs)
    load = os.getloadavg()
    for name in args.trees:
        data = bench.tree(name)
        bench.cold(name, data)
        bench.unchanged(name, data)
        bench.one_changed(name, data)
        bench.memory(name, data)
        if args.dvc:
            bench.dvc(name, data, args.dvc)
        if args.against:
            bench.against(name, data, args.against)
    report(bench, load)
    return 0


def report(bench: Bench, load: tuple[float, float, float]) -> None:
    """The table, the notes, the load before (`load`) and now, and what `--stats` said."""
    after = os.getloadavg()
    print(table(bench.rows))
    print()
    for note in bench.notes:
        print(f"- {note}")
    print(
        f"- load average (1 min) before {load[0]:.2f}, after {after[0]:.2f}; {os.cpu_count()} cores"
    )
    for row in bench.rows:
        if row.note.startswith("hashed"):
            print(f"- {row.tree} {row.case}: `kite hash --stats`: {row.note}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
