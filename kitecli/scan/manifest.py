"""Directories as Merkle trees of blake3 digests, and the diff of two of them.

Canonical encoding (the same directory gives the same digest on every machine; see
docs/manifests.md): a tree object is the bytes `kite-tree-1\\n` followed by one record per
entry, sorted by the entry's name as raw bytes; a record is a kind byte (`f` file, `d`
directory), the name's length as 4 big-endian bytes, the name (the file system's bytes:
UTF-8 for any name Python can decode), the 32-byte blake3 digest of the file's content or
of the subtree's object, and for a file its size as 8 big-endian bytes. A tree's digest is
the blake3 of its object. An empty directory is a tree with no entries; it appears in its
parent like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kitecli.scan.hashing import PREFIX, digest_bytes, to_raw
from kitecli.scan.scanner import Summary, run, summarize
from kitecli.scan.statcache import StatCache
from kitecli.scan.trees import TREE_HEADER, encode_tree

__all__ = [
    "EMPTY",
    "Diff",
    "FileEntry",
    "Folder",
    "Manifest",
    "Summary",
    "diff",
    "from_files",
    "scan",
    "summarize",
    "tree_object",
]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a directory: its content digest (`b3:<hex>`) and size in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class Folder:
    """One directory of a manifest: its files by name and its subdirectories' names."""

    files: dict[str, FileEntry] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Manifest:
    """What a directory holds: relative posix path → FileEntry, and every tree's digest.

    `trees` maps each directory's relative path ("" for the root) to its tree digest.
    """

    digest: str
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    trees: Mapping[str, str] = field(default_factory=dict)
    # the lines of each `.kiteignore` among `files` (kitecli/scan/ignore.py), when read
    ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()  # version-control folders left out (.git, ...)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files.values())

    @cached_property
    def folders(self) -> Mapping[str, Folder]:
        """Every directory's own files and subdirectories, by relative path ("" = root)."""
        folders: dict[str, Folder] = {rel: Folder() for rel in self.trees}
        folders.setdefault("", Folder())
        for path, entry in self.files.items():
            parent, _, name = path.rpartition("/")
            folders.setdefault(parent, Folder()).files[name] = entry
        for rel in list(folders):
            while rel:
                parent, _, name = rel.rpartition("/")
                folders.setdefault(parent, Folder()).dirs.add(name)
                rel = parent
        return folders

    def walk(self, folder: str = "") -> Iterator[tuple[str, FileEntry]]:
        """(path, entry) for every file at or under `folder`, in no particular order."""
        stack = [folder] if folder in self.folders else []
        while stack:
            rel = stack.pop()
            node = self.folders[rel]
            for name, entry in node.files.items():
                yield (f"{rel}/{name}" if rel else name), entry
            stack += [f"{rel}/{d}" if rel else d for d in node.dirs]

    def subtree(self, path: str) -> Manifest:
        """The manifest of the subdirectory `path` (empty if there is none)."""
        path = path.strip("/")
        if path in ("", "."):
            return self
        if path not in self.trees:
            return EMPTY
        cut = len(path) + 1
        prefix = path + "/"
        return Manifest(
            digest=self.trees[path],
            files={p[cut:]: e for p, e in self.files.items() if p.startswith(prefix)},
            trees={t[cut:]: d for t, d in self.trees.items() if t.startswith(prefix)}
            | {"": self.trees[path]},
            ignores={p[cut:]: r for p, r in self.ignores.items() if p.startswith(prefix)},
            hidden=tuple(h[cut:] for h in self.hidden if h.startswith(prefix)),
        )


def tree_object(entries: list[tuple[bytes, str, str, int | None]]) -> bytes:
    """Encode (name, kind, digest, size) entries; size is None for a directory."""
    files = [(os.fsdecode(n), to_raw(d), s or 0) for n, k, d, s in entries if k == "f"]
    dirs = [(os.fsdecode(n), to_raw(d)) for n, k, d, _ in entries if k == "d"]
    return encode_tree(files, dirs)


EMPTY = Manifest(digest=digest_bytes(TREE_HEADER), files={}, trees={"": digest_bytes(TREE_HEADER)})


def from_files(
    files: Mapping[str, FileEntry], empty_dirs: Iterable[str] = (), *, like: Manifest = EMPTY
) -> Manifest:
    """Build the Merkle tree of a flat listing (relative posix path → entry), with the
    `.kiteignore` lines and left-out folders of the scan `like`."""
    manifest = Manifest(digest="", files=dict(files), trees={d: "" for d in empty_dirs})
    folders = manifest.folders
    trees: dict[str, str] = {}
    for rel in sorted(folders, key=lambda p: -p.count("/") if p else 1):  # deepest first
        node = folders[rel]
        rows = [(n, to_raw(e.digest), e.size) for n, e in node.files.items()]
        subs = [(d, to_raw(trees[f"{rel}/{d}" if rel else d])) for d in node.dirs]
        trees[rel] = digest_bytes(encode_tree(rows, subs))
    return Manifest(trees[""], manifest.files, trees, like.ignores, like.hidden)


def scan(root: Path, *, cache: StatCache | None = None, jobs: int | None = None) -> Manifest:
    """Hash every regular file under `root` (a missing root is an empty directory).

    With a `cache`, files whose stat did not move since the last scan are not read again.
    `jobs` processes share the work (default: one per core).
    """
    out = run(root, cache=cache, jobs=jobs, want_files=True)
    if out is None:
        return EMPTY
    files: dict[str, FileEntry] = {}
    trees: dict[str, str] = {}
    for rel, tree, _, _, _, rows in out.dirs:
        trees[rel] = PREFIX + tree.hex()
        prefix = f"{rel}/" if rel else ""
        if rows:
            files.update({prefix + n: FileEntry(PREFIX + d.hex(), s) for n, d, s in rows})
    return Manifest(digest=trees[""], files=files, trees=trees, hidden=tuple(sorted(out.hidden)))


@dataclass(frozen=True)
class Diff:
    """Files added, removed and modified (content or size) between two manifests."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)


def diff(old: Manifest, new: Manifest) -> Diff:
    """What changed from `old` to `new`; subtrees with equal digests are not looked into."""
    added: list[str] = []
    removed: list[str] = []
    modified: list[str] = []
    stack = [] if old.digest == new.digest else [""]
    while stack:
        rel = stack.pop()
        a, b = old.folders.get(rel, Folder()), new.folders.get(rel, Folder())
        prefix = f"{rel}/" if rel else ""
        for name in a.files.keys() - b.files.keys():
            removed.append(prefix + name)
        for name, entry in b.files.items():
            before = a.files.get(name)
            if before is None:
                added.append(prefix + name)
            elif before != entry:
                modified.append(prefix + name)
        for name in a.dirs | b.dirs:
            sub = prefix + name
            was, now = old.trees.get(sub), new.trees.get(sub)
            if was is not None and was == now:
                continue  # the same tree: nothing below it changed
            if name not in b.dirs:
                removed += (p for p, _ in old.walk(sub))
            elif name not in a.dirs:
                added += (p for p, _ in new.walk(sub))
            else:
                stack.append(sub)
    return Diff(tuple(sorted(added)), tuple(sorted(removed)), tuple(sorted(modified)))
