"""Remember pipeline contents that passed the schema and CEL checks, so loads skip them.

Importing jsonschema and the CEL parser costs about half a second, and `kite plan` loads
the pipeline on every call. Both checks depend on nothing but the pipeline's content,
the schema and the CEL parser, so a valid result is recorded in `.kite/validated` under
a digest of exactly those, and a load of the same content skips the two checks. Building
the model and every other check (files, users, paths, cycles) still run on every load.
"""

from __future__ import annotations

import contextlib
import json
import os
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from kitecli import __version__
from kitecli.scan.hashing import digest_bytes

RECORD = ".kite/validated"
KEEP = 16  # content digests remembered per project: branches, edits and back


def fingerprint(data: dict[str, Any]) -> str:
    """Digest of what the schema and CEL checks depend on, for this parsed content."""
    schema = resources.files("kitecli").joinpath("schemas/pipeline.schema.json").read_bytes()
    parts = [
        f"kite {__version__}".encode(),
        digest_bytes(schema).encode(),
        _cel_parser().encode(),
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode(),
    ]
    return digest_bytes(b"\0".join(parts))


def _cel_parser() -> str:
    """Which CEL parser is installed (its files' names, sizes and times), without importing it."""
    found = find_spec("cel")
    if found is None or not found.submodule_search_locations:
        return "cel: none"
    folder = Path(next(iter(found.submodule_search_locations)))
    stats = [(p.name, p.stat()) for p in sorted(folder.iterdir()) if p.is_file()]
    return ";".join(f"{name}:{st.st_size}:{st.st_mtime_ns}" for name, st in stats)


def seen(root: Path, key: str) -> bool:
    """True when content with this fingerprint passed the checks in the project at `root`."""
    try:
        return key in (root / RECORD).read_text().split()
    except (OSError, UnicodeDecodeError):
        return False


def remember(root: Path, key: str) -> None:
    """Record that content with this fingerprint passed; best effort, never fails a load."""
    record = root / RECORD
    try:
        known = [k for k in record.read_text().split() if k != key]
    except (OSError, UnicodeDecodeError):
        known = []
    temporary = record.with_name(f"{record.name}.{os.getpid()}.tmp")
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text("\n".join([*known[-(KEEP - 1) :], key]) + "\n")
        os.replace(temporary, record)
    except OSError:  # a read-only project is only slower
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
