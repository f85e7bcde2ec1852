"""Compare stations over one month: monthly.py DAILY_DIR OUT_DIR.

The input view holds one month's files, `MONTH/STATION.csv`; writes `MONTH.csv` with a
row per station: days, coldest day, warmest day, mean of daily means.
"""

import csv
import sys
from pathlib import Path

daily, out = sys.argv[1:3]
for month_dir in sorted(p for p in Path(daily).iterdir() if p.is_dir()):
    with open(Path(out, f"{month_dir.name}.csv"), "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["station", "days", "coldest_c", "warmest_c", "mean_c"])
        for path in sorted(month_dir.glob("*.csv")):
            with open(path, newline="") as src:
                rows = list(csv.DictReader(src))
            means = [float(r["mean_c"]) for r in rows]
            writer.writerow(
                [
                    path.stem,
                    len(rows),
                    min((r["min_c"] for r in rows), key=float),
                    max((r["max_c"] for r in rows), key=float),
                    f"{sum(means) / len(means):.1f}",
                ]
            )
