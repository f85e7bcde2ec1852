"""Directories as Merkle trees of blake3 digests, and the diff of two of them.

Canonical encoding (the same directory gives the same digest on every machine):
a tree object is the bytes `kite-tree-1\\n` followed by one record per entry, sorted by
the entry's name as raw bytes; a record is a kind byte (`f` file, `d` directory), the
name's length as 4 big-endian bytes, the name (UTF-8, or the file system's raw bytes),
the 32-byte blake3 digest of the file's content or of the subtree's object, and for a
file its size as 8 big-endian bytes. A tree's digest is the blake3 of its object.
An empty directory is a tree with no entries; it appears in its parent like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kitecli.hashing import PREFIX, digest_bytes, hash_file

TREE_HEADER = b"kite-tree-1\n"


@dataclass(frozen=True)
class FileEntry:
    """One file of a directory: its content digest (`b3:<hex>`) and size in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What a directory holds: relative posix path → FileEntry, and every tree's digest.

    `trees` maps each directory's relative path ("" for the root) to its tree digest.
    """

    digest: str
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    trees: Mapping[str, str] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files.values())

    def subtree(self, path: str) -> Manifest:
        """The manifest of the subdirectory `path` (empty if there is none)."""
        path = path.strip("/")
        if path in ("", "."):
            return self
        if path not in self.trees:
            return EMPTY
        prefix = path + "/"
        return Manifest(
            digest=self.trees[path],
            files={p[len(prefix) :]: e for p, e in self.files.items() if p.startswith(prefix)},
            trees={t[len(prefix) :]: d for t, d in self.trees.items() if t.startswith(prefix)}
            | {"": self.trees[path]},
        )


def tree_object(entries: list[tuple[bytes, str, str, int | None]]) -> bytes:
    """Encode (name, kind, digest, size) entries; size is None for a directory."""
    out = bytearray(TREE_HEADER)
    for name, kind, digest, size in sorted(entries):
        out += kind.encode() + len(name).to_bytes(4, "big") + name
        out += bytes.fromhex(digest.removeprefix(PREFIX))
        if size is not None:
            out += size.to_bytes(8, "big")
    return bytes(out)


EMPTY = Manifest(digest=digest_bytes(TREE_HEADER), files={}, trees={"": digest_bytes(TREE_HEADER)})


def from_files(files: Mapping[str, FileEntry], empty_dirs: Iterable[str] = ()) -> Manifest:
    """Build the Merkle tree of a flat listing (relative posix path → entry)."""
    children: dict[str, list[tuple[bytes, str, str, int | None]]] = {"": []}

    def folder_of(path: str) -> str:
        parent = path.rpartition("/")[0]
        while parent not in children:
            children[parent] = []
            parent = parent.rpartition("/")[0]
        return path.rpartition("/")[0]

    for folder in empty_dirs:
        folder_of(folder)
        children.setdefault(folder, [])
    for path, entry in files.items():
        name = path.rpartition("/")[2]
        children[folder_of(path)].append((os.fsencode(name), "f", entry.digest, entry.size))
    trees: dict[str, str] = {}
    for folder in sorted(children, key=lambda p: -p.count("/") if p else 1):
        trees[folder] = digest_bytes(tree_object(children[folder]))
        if folder:
            parent, _, name = folder.rpartition("/")
            children[parent].append((os.fsencode(name), "d", trees[folder], None))
    return Manifest(digest=trees[""], files=dict(files), trees=trees)


def scan(root: Path) -> Manifest:
    """Hash every regular file under `root` (a missing root is an empty directory)."""
    files: dict[str, FileEntry] = {}
    empty_dirs: list[str] = []
    for folder, dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        if not dirs and not names and rel:
            empty_dirs.append(rel)
        for name in names:
            relpath = f"{rel}/{name}" if rel else name
            digest, size = hash_file(os.path.join(folder, name))
            files[relpath] = FileEntry(digest, size)
    return from_files(files, empty_dirs)
