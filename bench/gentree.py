"""Write the deterministic benchmark trees: T1 (10,000 x ~100 KB) and T2 (100,000 x ~2 KB)."""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shape:
    """How many files of about what size, spread over how many subdirectories."""

    files: int
    dirs: int
    size: int


SHAPES = {
    "T1": Shape(files=10_000, dirs=100, size=100_000),
    "T2": Shape(files=100_000, dirs=1_000, size=2_000),
}


def generate(root: Path, shape: Shape, *, seed: int = 3) -> None:
    """Write `shape` under `root`: the same bytes and names for the same seed, everywhere."""
    rng = random.Random(seed)
    per_dir = shape.files // shape.dirs
    for d in range(shape.dirs):
        folder = root / f"d{d:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(per_dir):
            size = shape.size + rng.randrange(-shape.size // 10, shape.size // 10 + 1)
            (folder / f"f{f:05d}.bin").write_bytes(rng.randbytes(size))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    if args.root.exists() and any(args.root.iterdir()):
        parser.error(f"{args.root} is not empty")
    generate(args.root, SHAPES[args.shape], seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
