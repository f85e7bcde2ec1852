"""One table for the year: report.py MONTHLY_DIR OUT_DIR → OUT_DIR/summary.csv."""

import csv
import sys
from pathlib import Path

monthly, out = sys.argv[1:3]
with open(Path(out, "summary.csv"), "w", newline="") as handle:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["month", "warmest_station", "mean_c", "spread_c"])
    for path in sorted(Path(monthly).glob("*.csv")):
        with open(path, newline="") as src:
            rows = sorted(csv.DictReader(src), key=lambda r: float(r["mean_c"]))
        spread = float(rows[-1]["mean_c"]) - float(rows[0]["mean_c"])
        writer.writerow([path.stem, rows[-1]["station"], rows[-1]["mean_c"], f"{spread:.1f}"])
