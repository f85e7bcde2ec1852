"""A data root's files as a mapping whose Merkle tree is kept up to date folder by folder.

`from_files` builds a whole tree from a flat listing: every folder encoded and hashed.
During an apply the listing changes a few files at a time, and kite.lock wants the tree at
every checkpoint; a `Listing` re-encodes only the folders on the path from a changed file
to the root, and within a folder only the changed entries' records. Its tree is the same,
byte for byte, as `from_files` of the same files (tests/test_listing.py holds it to that).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from kitecli.scan.hashing import digest_bytes, to_raw
from kitecli.scan.manifest import EMPTY, FileEntry, Manifest
from kitecli.scan.trees import FS_ENCODING, FS_ERRORS, TREE_HEADER, tree_records

Key = tuple[bytes, bytes]  # raw name, kind byte: the order of a tree object's records


class _Node:
    """One folder: its own files and subfolders, their records in tree order, its digest,
    and the number and bytes of the files at or below it."""

    __slots__ = ("changed", "count", "digest", "dirs", "files", "nbytes", "order", "records")

    def __init__(self) -> None:
        self.files: dict[str, FileEntry] = {}
        self.dirs: set[str] = set()
        self.records: dict[Key, bytes] | None = None  # None: not encoded yet
        self.order: list[Key] = []
        self.changed: set[str] = set()  # names whose record is to be made again
        self.digest: str | None = None  # None: to be computed
        self.count = 0
        self.nbytes = 0


class Listing(MutableMapping[str, FileEntry]):
    """Relative posix path → FileEntry, with each folder's digest, files and bytes."""

    def __init__(self, files: Mapping[str, FileEntry] | None = None) -> None:
        self._files: dict[str, FileEntry] = dict(files or {})
        self._nodes: dict[str, _Node] = {"": _Node()}
        for path, entry in self._files.items():
            parent, _, name = path.rpartition("/")
            self._node(parent).files[name] = entry
        for node in self._nodes.values():  # each file counted once in every folder above it
            node.count = len(node.files)
            node.nbytes = sum(e.size for e in node.files.values())
        for rel in sorted(self._nodes, key=lambda p: -p.count("/") if p else 1):
            if rel:
                above = self._nodes[rel.rpartition("/")[0]]
                above.count += self._nodes[rel].count
                above.nbytes += self._nodes[rel].nbytes

    # -- the mapping -----------------------------------------------------------------
    def __getitem__(self, path: str) -> FileEntry:
        return self._files[path]

    def get(self, path: str, default: Any = None) -> Any:
        return self._files.get(path, default)

    def __contains__(self, path: object) -> bool:
        return path in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __setitem__(self, path: str, entry: FileEntry) -> None:
        old = self._files.get(path)
        if old == entry:
            return
        self._files[path] = entry
        parent, _, name = path.rpartition("/")
        self._node(parent).files[name] = entry
        self._touch(parent, name, 0 if old else 1, entry.size - (old.size if old else 0))

    def __delitem__(self, path: str) -> None:
        old = self._files.pop(path)
        parent, _, name = path.rpartition("/")
        del self._nodes[parent].files[name]
        self._touch(parent, name, -1, -old.size)

    # -- the tree --------------------------------------------------------------------
    def summary(self, folder: str) -> tuple[str, int, int]:
        """The digest, file count and bytes of `folder` ("" the root); an absent folder is
        an empty one."""
        folder = folder.strip("/")
        node = self._nodes.get("" if folder == "." else folder)
        if node is None:
            return EMPTY.digest, 0, 0
        self._refresh()
        assert node.digest is not None
        return node.digest, node.count, node.nbytes

    def manifest(self, *, like: Manifest = EMPTY) -> Manifest:
        """The whole tree as a Manifest (a snapshot), with the scan `like`'s ignore lines."""
        self._refresh()
        trees = {rel: node.digest or "" for rel, node in self._nodes.items()}
        return Manifest(trees[""], dict(self._files), trees, like.ignores, like.hidden)

    def _node(self, rel: str) -> _Node:
        """The folder `rel`, made (and linked into its parents) if it is new."""
        node = self._nodes.get(rel)
        if node is None:
            node = self._nodes[rel] = _Node()
            parent, _, name = rel.rpartition("/")
            self._node(parent).dirs.add(name)
        return node

    def _touch(self, rel: str, name: str, files: int, nbytes: int) -> None:
        """Mark `name` in folder `rel` changed, and every folder above; drop empty ones."""
        while True:
            node = self._nodes[rel]
            node.changed.add(name)
            node.digest = None
            node.count += files
            node.nbytes += nbytes
            if not rel:
                return
            parent, _, base = rel.rpartition("/")
            if node.count == 0:  # no file left at or below it: not part of the tree
                del self._nodes[rel]
                self._nodes[parent].dirs.discard(base)
            rel, name = parent, base

    def _refresh(self) -> None:
        """Compute the digest of every folder that changed, deepest first."""
        stale = [rel for rel, node in self._nodes.items() if node.digest is None]
        for rel in sorted(stale, key=lambda p: -p.count("/") if p else 1):
            node = self._nodes[rel]
            _update_records(node, rel, self._nodes)
            body = b"".join([node.records[k] for k in node.order])  # type: ignore[index]
            node.digest = digest_bytes(TREE_HEADER + body)
            node.changed.clear()


def _update_records(node: _Node, rel: str, nodes: Mapping[str, _Node]) -> None:
    """Bring the folder's records and their order in line with its files and subfolders."""
    prefix = f"{rel}/" if rel else ""
    first = node.records is None  # the first time: every entry
    names = set(node.files) | node.dirs if first else node.changed
    records = node.records if node.records is not None else {}
    gone: list[Key] = []
    new: dict[Key, bytes] = {}
    for name in names:
        raw = name.encode(FS_ENCODING, FS_ERRORS)
        entry = node.files.get(name)
        rows = [(name, to_raw(entry.digest), entry.size)] if entry is not None else []
        sub = nodes.get(prefix + name) if name in node.dirs else None
        subs = [(name, to_raw(sub.digest or ""))] if sub is not None else []
        made = {(raw, r[:1]): r for _, r in tree_records(rows, subs)}
        for kind in (b"f", b"d"):
            key = (raw, kind)
            if key in made:
                new[key] = made[key]
            elif key in records:
                gone.append(key)
    _reorder(node, records, new, gone)


def _reorder(
    node: _Node, records: dict[Key, bytes], new: dict[Key, bytes], gone: list[Key]
) -> None:
    added = [k for k in new if k not in records]
    for key in gone:
        del records[key]
    records.update(new)
    node.records = records
    if len(added) + len(gone) > 32:  # many: sorting anew is cheaper than one by one
        node.order = sorted(records)
        return
    for key in gone:
        del node.order[bisect.bisect_left(node.order, key)]
    for key in added:
        bisect.insort(node.order, key)
