"""total.py IN_DIR OUT_DIR: add up every IN_DIR/*.json into OUT_DIR/total.json."""

import json
import sys
from pathlib import Path

source, target = Path(sys.argv[1]), Path(sys.argv[2])
counts = [json.loads(p.read_text()) for p in sorted(source.glob("*.json"))]
target.mkdir(parents=True, exist_ok=True)
total = {"books": len(counts), "words": sum(c["words"] for c in counts)}
(target / "total.json").write_text(json.dumps(total) + "\n")
print(total, flush=True)
