"""One PageRank step: PREVIOUS/links.csv (and ranks.csv, after the first step) -> OUT.

Writes OUT/links.csv (the same links, for the next step), OUT/ranks.csv and
OUT/metrics.json, whose `delta` (how far the ranks moved) the pipeline's `until` reads.
"""

import csv
import json
import sys
from pathlib import Path

DAMPING = 0.85

previous, out = Path(sys.argv[1]), Path(sys.argv[2])
links = [tuple(row) for row in csv.reader((previous / "links.csv").open()) if row]
pages = sorted({page for link in links for page in link})
ranks = {page: 1 / len(pages) for page in pages}
if (previous / "ranks.csv").exists():
    ranks = {page: float(rank) for page, rank in csv.reader((previous / "ranks.csv").open())}
outgoing = {page: [dst for src, dst in links if src == page] for page in pages}
new = {page: (1 - DAMPING) / len(pages) for page in pages}
for page in pages:
    targets = outgoing[page] or pages  # a page without links shares its rank with all
    for target in targets:
        new[target] += DAMPING * ranks[page] / len(targets)
new = {page: round(rank, 6) for page, rank in new.items()}
delta = round(sum(abs(new[p] - ranks[p]) for p in pages), 6)
(out / "links.csv").write_text("".join(f"{a},{b}\n" for a, b in links))
(out / "ranks.csv").write_text("".join(f"{p},{new[p]:.6f}\n" for p in pages))
(out / "metrics.json").write_text(json.dumps({"delta": delta}) + "\n")
