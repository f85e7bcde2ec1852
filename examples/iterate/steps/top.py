"""The three pages with the highest rank: RANKS/ranks.csv -> OUT/top.csv."""

import csv
import sys
from pathlib import Path

ranks, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = sorted(csv.reader((ranks / "ranks.csv").open()), key=lambda r: (-float(r[1]), r[0]))
(out / "top.csv").write_text("".join(f"{page},{rank}\n" for page, rank in rows[:3]))
