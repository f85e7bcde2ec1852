"""Scan some folders of a data root into one manifest of the whole root.

Only the named folders are scanned; the folders above them list only what was scanned.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from kitecli.scan import manifest
from kitecli.scan.hashing import digest_bytes, hash_file
from kitecli.scan.ignore import ignore_files, read_rules

Scanner = Callable[[Path], manifest.Manifest]


def scan_data(
    root: Path,
    folders: Iterable[str],
    *,
    scan: Scanner = manifest.scan,
    elsewhere: Mapping[str, Path] | None = None,
) -> manifest.Manifest:
    """The data root's manifest, holding only `folders` (each scanned once, if it exists).

    Folders above them list only what was scanned, so their digests are not those of the
    whole folder on disk; the planner reads only the scanned folders and their files.
    `elsewhere` maps a folder to another data root it is scanned in (same relative path).
    """
    found: dict[str, manifest.Manifest] = {}
    single: dict[str, manifest.FileEntry] = {}  # a path that is one file, not a folder
    for folder in outermost(folders):
        base = (elsewhere or {}).get(folder, root)
        where = base / folder if folder else base
        if where.is_dir():
            found[folder] = with_ignores(where, scan(where))
        elif folder and where.is_file():
            single[folder] = manifest.FileEntry(*hash_file(where))
    return graft(found, single)


def with_ignores(where: Path, part: manifest.Manifest) -> manifest.Manifest:
    """`part` (the manifest of the folder `where`) with the lines of its `.kiteignore` files."""
    files = ignore_files(part.files)
    if not files:
        return part
    return dataclasses.replace(part, ignores=read_rules(where, files))


def graft(
    parts: Mapping[str, manifest.Manifest], single: Mapping[str, manifest.FileEntry] | None = None
) -> manifest.Manifest:
    """One manifest holding each folder's manifest at its place, and each `single` file at
    its path (none of them may hold another)."""
    if "" in parts:
        return parts[""]
    single = single or {}
    files: dict[str, manifest.FileEntry] = {}
    trees: dict[str, str] = {}
    ignores: dict[str, tuple[str, ...]] = {}
    hidden: list[str] = []
    for folder, part in parts.items():
        prefix = folder + "/"
        files.update({prefix + path: entry for path, entry in part.files.items()})
        ignores.update({prefix + path: lines for path, lines in part.ignores.items()})
        hidden += (prefix + path for path in part.hidden)
        trees.update({(prefix + tree if tree else folder): d for tree, d in part.trees.items()})
    files.update(single)
    above = {"", *(a for f in (*parts, *single) for a in _ancestors(f))}
    for folder in sorted(above, key=lambda a: -a.count("/") if a else 1):
        names: list[tuple[bytes, str, str, int | None]] = [
            (os.fsencode(child.rpartition("/")[2]), "d", trees[child], None)
            for child in (*parts, *above)
            if child and child.rpartition("/")[0] == folder
        ]
        names += [
            (os.fsencode(path.rpartition("/")[2]), "f", entry.digest, entry.size)
            for path, entry in single.items()
            if path.rpartition("/")[0] == folder
        ]
        trees[folder] = digest_bytes(manifest.tree_object(names))
    return manifest.Manifest(trees[""], files, trees, ignores, tuple(hidden))


def _ancestors(folder: str) -> Iterator[str]:
    while "/" in folder:
        folder = folder.rpartition("/")[0]
        yield folder


def outermost(folders: Iterable[str]) -> list[str]:
    """The folders not inside another one ("" or "." is the whole root)."""
    unique = sorted({"" if f in ("", ".") else f.strip("/") for f in folders})
    if "" in unique:
        return [""]
    kept: list[str] = []
    for folder in unique:
        if not any(folder.startswith(k + "/") for k in kept):
            kept.append(folder)
    return kept
