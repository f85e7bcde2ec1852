"""The stat cache (.kite/state.db, SQLite): each file's digest as of the stat it was read at.

One row per directory, keyed by the directory's absolute path (file system bytes): the
signature of its listing (blake3 over every entry's name, mode, device, inode, size,
mtime_ns and ctime_ns), its subdirectories, its tree digest and, per regular file,
name → (device, inode, size, mtime_ns, ctime_ns, digest). A directory whose signature
matches needs no per-file work at all; one that does not is checked file by file, and only
files whose stat moved are hashed again. A row per directory rather than per file: reading
100,000 per-file rows costs ~220 ms, reading 1,000 directory rows ~10 ms (bench/README.md).
"""

from __future__ import annotations

import marshal
import os
import sqlite3
from collections.abc import Iterable, Mapping
from types import TracebackType

from kitecli.errors import ProjectError

SCHEMA_VERSION = 1
MARSHAL_VERSION = 4
FILE_NAME = "state.db"

# name → (device, inode, size, mtime_ns, ctime_ns, digest or None: hash it again)
FileStats = dict[str, tuple[int, int, int, int, int, bytes | None]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dirs (
    path BLOB PRIMARY KEY,
    sig BLOB,
    subdirs BLOB NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    tree_key BLOB NOT NULL,
    tree BLOB NOT NULL,
    entries BLOB NOT NULL
) WITHOUT ROWID
"""


class DirRecord:
    """What a directory held when it was last scanned (a slotted class: see walker.py).

    `sig` is None when the listing alone cannot vouch for the files (a file was modified
    too recently to trust its timestamps, or a symlink points elsewhere): then every file
    is checked against `entries`. `tree` is valid while `tree_key` (the signature plus the
    subdirectories' digests) is unchanged. `files` and `nbytes` count direct files only.
    """

    __slots__ = ("entries", "files", "nbytes", "sig", "subdirs", "tree", "tree_key")

    def __init__(
        self,
        sig: bytes | None,
        subdirs: tuple[str, ...],
        files: int,
        nbytes: int,
        tree_key: bytes,
        tree: bytes,
        entries: bytes | None,  # marshalled FileStats; None: not loaded (see StatCache.entries)
    ) -> None:
        self.sig, self.subdirs, self.files, self.nbytes = sig, subdirs, files, nbytes
        self.tree_key, self.tree, self.entries = tree_key, tree, entries


def encode_stats(stats: FileStats) -> bytes:
    return marshal.dumps(stats, MARSHAL_VERSION)


def decode_stats(blob: bytes) -> FileStats:
    try:
        value = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _key(root: bytes, rel: str) -> bytes:
    return root + b"/" + os.fsencode(rel) if rel else root


class StatCache:
    """An open stat cache; use one per process, as a context manager or with close()."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(path)  # workers reconnect from other directories
        self._pid = os.getpid()
        self._db = self._open()
        self._forked: sqlite3.Connection | None = None  # this process's own, after a fork
        self.error: str | None = None  # why the last save failed, if it did

    def _open(self) -> sqlite3.Connection:
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ProjectError(
                f"{folder} is a file: kite keeps its stat cache in that folder",
                hint="move the file away (kite makes the folder again)",
            ) from exc
        try:
            return _connect(self.path)
        except sqlite3.DatabaseError:  # not a database, or damaged: it is only a cache
            for suffix in ("", "-wal", "-shm"):
                if os.path.lexists(self.path + suffix):
                    os.unlink(self.path + suffix)
            return _connect(self.path)

    def __enter__(self) -> StatCache:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if os.getpid() == self._pid:  # never close a connection inherited through fork
            self._db.close()
        elif self._forked is not None:
            self._forked.close()

    def _conn(self) -> sqlite3.Connection:
        """The connection of this process: a forked worker opens its own (SQLite's rule)."""
        if os.getpid() == self._pid:
            return self._db
        if self._forked is None:
            self._forked = _connect(self.path)
        return self._forked

    def load(self, root: str, *, entries: bool = False) -> dict[str, DirRecord]:
        """Every directory recorded under `root` (absolute), by path relative to it ("" = root).

        Without `entries`, the per-file rows are left in the database (`DirRecord.entries`
        is None) until `entries()` fetches those of one directory.
        """
        base = os.fsencode(root)
        prefix = base if base.endswith(b"/") else base + b"/"
        blob = "entries" if entries else "NULL"
        rows = self._db.execute(
            f"SELECT path, sig, subdirs, files, bytes, tree_key, tree, {blob} FROM dirs"
            " WHERE path = ? OR (path >= ? AND path < ?)",
            (base, prefix, prefix[:-1] + b"0"),
        ).fetchall()
        cut = len(prefix)
        out: dict[str, DirRecord] = {}
        for path, sig, subdirs, files, nbytes, tree_key, tree, blob in rows:
            rel = "" if path == base else os.fsdecode(path[cut:])
            try:
                names = tuple(marshal.loads(subdirs))
            except (EOFError, ValueError, TypeError):
                continue
            out[rel] = DirRecord(sig, names, files, nbytes, tree_key, tree, blob)
        return out

    def entries(self, root: str, rel: str) -> bytes | None:
        """The marshalled per-file rows of the directory `rel` under `root`, if recorded."""
        row = (
            self._conn()
            .execute("SELECT entries FROM dirs WHERE path = ?", (_key(os.fsencode(root), rel),))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def save(self, root: str, changed: Mapping[str, DirRecord], gone: Iterable[str]) -> None:
        """Store the directories that changed under `root` and forget those that are gone.

        A record whose `entries` is None keeps the per-file rows already stored. A cache
        that cannot be written (read-only, locked for long, disk full) is not an error: the
        scan's result stands; `error` says why nothing was kept.
        """
        base = os.fsencode(root)
        trees = [
            (r.sig, r.tree_key, r.tree, _key(base, rel))
            for rel, r in changed.items()
            if r.entries is None
        ]
        rows = [
            (
                _key(base, rel),
                r.sig,
                marshal.dumps(r.subdirs, MARSHAL_VERSION),
                r.files,
                r.nbytes,
                r.tree_key,
                r.tree,
                r.entries,
            )
            for rel, r in changed.items()
            if r.entries is not None
        ]
        dropped = [(_key(base, rel),) for rel in gone]
        if not rows and not trees and not dropped:
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO dirs VALUES (?,?,?,?,?,?,?,?)", rows)
                self._db.executemany(
                    "UPDATE dirs SET sig = ?, tree_key = ?, tree = ? WHERE path = ?", trees
                )
                self._db.executemany("DELETE FROM dirs WHERE path = ?", dropped)
        except sqlite3.Error as exc:
            self.error = str(exc)


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            db.execute("DROP TABLE IF EXISTS dirs")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(_SCHEMA)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def default_path(start: str | os.PathLike[str] | None = None) -> str:
    """Where `kite` keeps its stat cache: `.kite/state.db` of the project around `start`.

    The project is the nearest folder (from `start`, default the working directory, up to
    the file system root) holding `pipeline.yaml` or `.kite/`; outside any project it is
    the user's cache folder (`$XDG_CACHE_HOME/kite`, default `~/.cache/kite`).
    """
    folder = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.isfile(os.path.join(folder, "pipeline.yaml")) or os.path.isdir(
            os.path.join(folder, ".kite")
        ):
            return os.path.join(folder, ".kite", FILE_NAME)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "kite", FILE_NAME)
