"""Clean hourly readings: clean.py RAW_DIR STATIONS_DIR MIN_C MAX_C OUT_DIR.

Converts Fahrenheit to Celsius, drops readings outside [MIN_C, MAX_C] and rows of
stations the reference table does not know. Keeps each file's relative path.
"""

import csv
import sys
from pathlib import Path

raw, stations_dir, low, high, out = sys.argv[1:6]
with open(Path(stations_dir, "stations.csv"), newline="") as handle:
    known = {row["station"] for row in csv.DictReader(handle)}

for path in sorted(Path(raw).rglob("*.csv")):
    if path.stem not in known:
        continue
    target = Path(out, path.relative_to(raw))
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(path, newline="") as src, open(target, "w", newline="") as dst:
        writer = csv.writer(dst, lineterminator="\n")
        writer.writerow(["time", "temp_c"])
        for row in csv.DictReader(src):
            celsius = (float(row["temp_f"]) - 32) * 5 / 9
            if float(low) <= celsius <= float(high):
                writer.writerow([row["time"], f"{celsius:.1f}"])
