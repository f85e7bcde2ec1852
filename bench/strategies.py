"""Measure ways to hash files with blake3, to choose kite's strategy by numbers.

Many ~100 KB files: one process reading whole files, blake3's own threads per file, a
thread pool over files, and one forked process per core. Then files of growing size (256
MiB in all at each size): one read into a reused buffer, 1 MiB chunks, mapping the file,
and mapping it with blake3's threads. Prints MB/s (median of runs).

    python bench/strategies.py --work /some/scratch/dir
"""

from __future__ import annotations

import argparse
import mmap
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from blake3 import blake3

sys.path.insert(0, str(Path(__file__).parent))
from gentree import SHAPES, generate

Job = Callable[[list[Path]], None]


def whole(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            blake3(handle.read()).digest()


def own_threads(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            blake3(handle.read(), max_threads=blake3.AUTO).digest()


def thread_pool(paths: list[Path]) -> None:
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(lambda p: whole([p]), paths))


def processes(paths: list[Path]) -> None:
    jobs = os.cpu_count() or 1
    children = []
    for i in range(1, jobs):
        pid = os.fork()
        if pid == 0:
            buffered(paths[i::jobs])
            os._exit(0)
        children.append(pid)
    buffered(paths[0::jobs])
    for pid in children:
        os.waitpid(pid, 0)


def buffered(paths: list[Path]) -> None:
    buffer = memoryview(bytearray(max(p.stat().st_size for p in paths) + 1))
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            got = handle.readinto(buffer)
            blake3(buffer[:got]).digest()


def chunks(paths: list[Path]) -> None:
    buffer = memoryview(bytearray(1 << 20))
    for path in paths:
        hasher = blake3()
        with open(path, "rb", buffering=0) as handle:
            while got := handle.readinto(buffer):
                hasher.update(buffer[:got])
        hasher.digest()


def mapped(threads: int) -> Job:
    def job(paths: list[Path]) -> None:
        for path in paths:
            with (
                open(path, "rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m,
            ):
                blake3(m, max_threads=threads).digest()

    return job


def sized(folder: Path, size: int, total: int = 256 << 20) -> list[Path]:
    """`total` bytes of random files of `size` bytes each, made once."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{size}-{i}" for i in range(max(1, total // size))]
    for path in paths:
        if not path.exists():
            path.write_bytes(os.urandom(size))
    return paths


def rate(job: Job, paths: list[Path], runs: int) -> float:
    size = sum(p.stat().st_size for p in paths)
    job(paths)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        job(paths)
        times.append(time.perf_counter() - start)
    return size / statistics.median(times) / 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "kite-hash-bench"
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    small = args.work / "T1" / "data"
    if not small.exists():
        generate(small, SHAPES["T1"])
    paths = sorted(small.rglob("*.bin"))[:3000]
    print("| files | strategy | MB/s |\n| --- | --- | ---: |")
    for name, job in [
        ("one process, whole-file read", whole),
        ("one process, read into a reused buffer", buffered),
        ("one process, blake3 threads per file", own_threads),
        ("thread pool over files", thread_pool),
        ("one process per core (fork)", processes),
    ]:
        print(f"| 3,000 x ~100 KB | {name} | {rate(job, paths, args.runs):,.0f} |")
    print("\n| file size | read into a buffer | 1 MiB chunks | mmap | mmap, blake3 threads |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in (256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20):
        files = sized(args.work / "sizes", size)
        rates = [
            rate(job, files, args.runs)
            for job in (buffered, chunks, mapped(1), mapped(blake3.AUTO))
        ]
        print(f"| {size >> 10:,} KiB | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")
    print(f"\nload average (1 min): {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
