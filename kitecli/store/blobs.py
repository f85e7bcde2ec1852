"""What every content-addressed store is: blobs named by their digest, and the one
protocol the local store (kitecli/store/cas.py) and the object-store one
(kitecli/store/remote_cas.py) both follow, as do the wrappers of write isolation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kitecli.scan.hashing import PREFIX
from kitecli.scan.manifest import FileEntry

TMP_PREFIX = ".kite-"  # a temporary file of a write, renamed into place when complete


@dataclass(frozen=True)
class Blob:
    """One object listed in a store: its key under the store's root, the digest it holds
    (None for a temporary file an interrupted write left), its size and when it was last
    written (epoch seconds; None when the store does not say)."""

    key: str
    digest: str | None
    size: int
    modified: float | None


def digest_of_key(key: str) -> str | None:
    """`b3:abcdef…` for the key `ab/cdef…`, or None when the key names no blob."""
    head, _, tail = key.partition("/")
    hexa = head + tail
    if len(head) != 2 or len(hexa) != 64 or any(c not in "0123456789abcdef" for c in hexa):
        return None
    return PREFIX + hexa


class CAS(Protocol):
    """A content-addressed store."""

    def has(self, digest: str) -> bool:
        """Whether the blob `digest` is in the store."""
        ...

    def verify(self, digest: str) -> bool:
        """Whether the blob is there and may be used: a local blob is re-hashed, and one
        that no longer matches its name is taken out of the store (False)."""
        ...

    def local_path(self, digest: str) -> Path | None:
        """Where the blob `digest` is (or would be) on this machine; None in an object store."""
        ...

    def ingest(
        self, path: Path, *, entry: FileEntry | None = None, move: bool = False
    ) -> FileEntry:
        """Store the file at `path` (no copy when the blob is there); `entry`, when known,
        saves hashing it; `move` lets the store take the file itself."""
        ...

    def materialize(self, digest: str, dest: Path | str) -> str:
        """Put the blob at `dest` (a local path, or an object URL); say how it got there."""
        ...

    def blobs(self) -> Iterator[Blob]:
        """Every blob, and every temporary file an interrupted write left, in any order."""
        ...

    def remove(self, blob: Blob) -> None:
        """Delete a listed blob (gone already is fine)."""
        ...
