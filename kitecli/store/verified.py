"""Which local blobs `kite fsck` last found intact, at which stat (a table of its own in
`.kite/state.db`): a blob whose device, inode, size, mtime and ctime are all unchanged was
not written since, so `kite fsck` reads again only blobs whose stat moved (`--all` reads
every one, for damage no write made: a failing disk)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

Stat = tuple[int, int, int, int, int]  # device, inode, size, mtime_ns, ctime_ns


def stat_of(path: Path) -> Stat | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Verified:
    """Blobs found to hash to their name, each with the stat it had then."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
        self._db = sqlite3.connect(os.fspath(path), timeout=30)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verified_blobs (path TEXT PRIMARY KEY, "
                "dev INTEGER, ino INTEGER, size INTEGER, mtime INTEGER, ctime INTEGER)"
            )

    def unchanged(self, blob: Path) -> bool:
        """Whether `blob` was found intact and has not been written since."""
        row = self._db.execute(
            "SELECT dev, ino, size, mtime, ctime FROM verified_blobs WHERE path = ?",
            (os.fspath(blob),),
        ).fetchone()
        return row is not None and tuple(row) == stat_of(blob)

    def record(self, blob: Path) -> None:
        """Note that `blob` hashes to its name as it is now."""
        found = stat_of(blob)
        if found is not None:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO verified_blobs VALUES (?, ?, ?, ?, ?, ?)",
                    (os.fspath(blob), *found),
                )

    def close(self) -> None:
        self._db.close()
