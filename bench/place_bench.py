"""What placing outputs costs: hard links vs reflink-or-copy, and re-hashing blobs.

Usage: python bench/place_bench.py [--files 1000] [--size 200] [--repeat 5]

Ingests `--files` files of `--size` bytes into a LocalCAS in a scratch folder, then times
materialising all of them into a fresh data folder with each order of methods, and `verify`
(one blake3 of each blob). Each time is the best of --repeat rounds (other work on the
machine only adds to it). A 64 MiB blob shows what copying and verifying a large file costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from kitecli.store.cas import LocalCAS, Method

ORDERS: dict[str, tuple[Method, ...]] = {
    "hardlink": ("hardlink",),
    "reflink, else copy": ("reflink", "copy"),
    "copy": ("copy",),
}


def timed(action: object, rounds: int, reset: object = None) -> float:
    spent = []
    for _ in range(rounds):
        if callable(reset):
            reset()
        start = time.perf_counter()
        assert callable(action)
        action()
        spent.append(time.perf_counter() - start)
    return min(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kite-place-"))
    try:
        run(scratch, args.files, args.size, args.repeat)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(scratch: Path, files: int, size: int, rounds: int) -> None:
    cas = LocalCAS(scratch / "cache")
    source = scratch / "src"
    source.mkdir()
    digests = []
    for n in range(files):
        path = source / f"{n}.txt"
        path.write_bytes(os.urandom(size))
        digests.append(cas.ingest(path).digest)
    out = scratch / "out"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    print(f"{files} files of {size} B")
    for name, order in ORDERS.items():
        store = LocalCAS(cas.root, order=order)

        def place(store: LocalCAS = store) -> None:
            for n, digest in enumerate(digests):
                store.materialize(digest, out / f"{n}.txt")

        spent = timed(place, rounds, fresh)
        print(
            f"  materialise, {name:20} {spent * 1000:8.1f} ms  {spent / files * 1e6:6.1f} µs/file"
        )
    spent = timed(lambda: [cas.verify(d) for d in digests], rounds)
    print(
        f"  verify (blake3 each)          {spent * 1e3:8.1f} ms  {spent / files * 1e6:6.1f} µs/file"
    )
    big = source / "big.bin"
    big.write_bytes(os.urandom(64 << 20))
    digest = cas.ingest(big).digest
    print("one file of 64 MiB")
    for name, order in ORDERS.items():
        store = LocalCAS(cas.root, order=order)
        spent = timed(lambda store=store: store.materialize(digest, out / "big.bin"), rounds, fresh)
        print(f"  materialise, {name:20} {spent * 1000:8.1f} ms")
    spent = timed(lambda: cas.verify(digest), rounds)
    print(f"  verify (blake3)               {spent * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
