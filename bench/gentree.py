"""Write the deterministic benchmark trees: T1 (10,000 x ~100 KB), T2 (100,000 x ~2 KB)
and T3 (1,000,000 x ~1 KB, nested three folders deep)."""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shape:
    """How many files of about what size, spread over how many subdirectories.

    With `fanout` the subdirectories are nested: `fanout` top folders, each holding
    `dirs // fanout` folders of files (T3), and each top folder is generated on its own
    (a resumable unit, see `generate`).
    """

    files: int
    dirs: int
    size: int
    fanout: int = 0


SHAPES = {
    "T1": Shape(files=10_000, dirs=100, size=100_000),
    "T2": Shape(files=100_000, dirs=1_000, size=2_000),
    "T3": Shape(files=1_000_000, dirs=10_000, size=1_000, fanout=100),
}


def generate(root: Path, shape: Shape, *, seed: int = 3) -> None:
    """Write `shape` under `root`: the same bytes and names for the same seed, everywhere."""
    if shape.fanout:
        _nested(root, shape, seed=seed)
        return
    rng = random.Random(seed)
    per_dir = shape.files // shape.dirs
    for d in range(shape.dirs):
        folder = root / f"d{d:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(per_dir):
            size = shape.size + rng.randrange(-shape.size // 10, shape.size // 10 + 1)
            (folder / f"f{f:05d}.bin").write_bytes(rng.randbytes(size))


def _nested(root: Path, shape: Shape, *, seed: int) -> None:
    """`root/a00/b000/f00000.bin`…, one top folder at a time, each from a seed of its own.

    A top folder is written under a temporary name and renamed when complete, so an
    interrupted run leaves only whole folders: running again resumes where it stopped
    (and writes the same bytes as an uninterrupted run).
    """
    per_top = shape.dirs // shape.fanout
    per_dir = shape.files // shape.dirs
    root.mkdir(parents=True, exist_ok=True)
    for partial in root.glob("*.partial"):
        shutil.rmtree(partial)
    for top in range(shape.fanout):
        final = root / f"a{top:02d}"
        if final.exists():
            continue
        work = root / f"a{top:02d}.partial"
        rng = random.Random(seed * 1_000_003 + top)
        for d in range(per_top):
            folder = work / f"b{d:03d}"
            folder.mkdir(parents=True)
            for f in range(per_dir):
                size = shape.size + rng.randrange(-shape.size // 10, shape.size // 10 + 1)
                (folder / f"f{f:05d}.bin").write_bytes(rng.randbytes(size))
        work.rename(final)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    shape = SHAPES[args.shape]
    if not shape.fanout and args.root.exists() and any(args.root.iterdir()):
        parser.error(f"{args.root} is not empty")
    generate(args.root, shape, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
