"""Daily minimum, maximum and mean of hourly readings: daily.py CLEAN_DIR OUT_DIR."""

import csv
import sys
from collections import defaultdict
from pathlib import Path

clean, out = sys.argv[1:3]
for path in sorted(Path(clean).rglob("*.csv")):
    days: dict[str, list[float]] = defaultdict(list)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            days[row["time"][:10]].append(float(row["temp_c"]))
    target = Path(out, path.relative_to(clean))
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["date", "min_c", "max_c", "mean_c"])
        for day, temps in sorted(days.items()):
            mean = sum(temps) / len(temps)
            writer.writerow([day, f"{min(temps):.1f}", f"{max(temps):.1f}", f"{mean:.1f}"])
