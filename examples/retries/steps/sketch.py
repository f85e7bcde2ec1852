"""Build a word-count sketch of one sample file. It keeps a table in memory while it
counts; the sample named `huge` needs about 100 MiB of it, more than the stage's first
attempt asks for."""

import json
import sys
import time
from pathlib import Path

sample, out = Path(sys.argv[1]), Path(sys.argv[2])
size = 100 * 2**20 if "huge" in sample.name else 2**20
table = b"x" * size  # resident, not just reserved
counts: dict[str, int] = {}
for word in sample.read_text().split():
    counts[word] = counts.get(word, 0) + 1
time.sleep(0.5)  # the counting of a real sample takes a while
(out / f"{sample.stem}.json").write_text(json.dumps(counts, sort_keys=True) + "\n")
