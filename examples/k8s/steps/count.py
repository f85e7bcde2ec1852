"""count.py IN_DIR OUT_DIR: for every IN_DIR/<book>.txt write OUT_DIR/<book>.json."""

import json
import sys
from pathlib import Path

source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
for book in sorted(source.glob("*.txt")):
    words = book.read_text(encoding="utf-8").split()
    result = {"book": book.stem, "words": len(words)}
    (target / f"{book.stem}.json").write_text(json.dumps(result) + "\n")
    print(book.stem, len(words), "words", flush=True)
