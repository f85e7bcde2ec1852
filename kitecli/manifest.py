"""Directories as Merkle trees of blake3 digests, and the diff of two of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileEntry:
    """One file of a directory: its content digest (`b3:<hex>`) and size in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What a directory holds: relative posix path → FileEntry, and the root digest."""

    digest: str
    files: Mapping[str, FileEntry] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files.values())
