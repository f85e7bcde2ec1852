"""The stat cache of object stores: (URL, ETag or generation, size) → blake3 digest.

An object whose URL, version token and size are unchanged since it was hashed is not
downloaded again. Tokens change on every write, so a stale entry never matches.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from typing import Protocol

Row = tuple[str, str, int, str]  # url, token, size, digest


class DigestCache(Protocol):
    def get(self, url: str, token: str, size: int) -> str | None: ...

    def put_many(self, rows: Iterable[Row]) -> None: ...


class MemoryDigestCache:
    """A cache that lives as long as the process (tests, one-off listings)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, int, str]] = {}

    def get(self, url: str, token: str, size: int) -> str | None:
        found = self.rows.get(url)
        return found[2] if found and found[:2] == (token, size) else None

    def put_many(self, rows: Iterable[Row]) -> None:
        for url, token, size, digest in rows:
            self.rows[url] = (token, size, digest)


class SqliteDigestCache:
    """The cache in a SQLite file (a table of its own; it can share `.kite/state.db`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS object_digests ("
                "url TEXT PRIMARY KEY, token TEXT NOT NULL, size INTEGER NOT NULL, "
                "digest TEXT NOT NULL)"
            )

    def get(self, url: str, token: str, size: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM object_digests WHERE url = ? AND token = ? AND size = ?",
                (url, token, size),
            ).fetchone()
        return str(row[0]) if row else None

    def put_many(self, rows: Iterable[Row]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO object_digests VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
