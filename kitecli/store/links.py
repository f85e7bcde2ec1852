"""Links and removals in local folders: views of data as symbolic links, and clearing a
working folder that a command may have left read-only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kitecli.scan.manifest import FileEntry


def link_view(
    source: Path, view: Path, files: Mapping[str, FileEntry] | None, *, real: Path | None = None
) -> None:
    """A view of a local folder: a link to each of `files`, or one link to all of it.

    `files` holding the path "" means `source` is one file: the view is a link to it.
    `real` is `source` resolved, when the caller knows it already.
    """
    if files is not None and "" in files:
        view.parent.mkdir(parents=True, exist_ok=True)
        view.symlink_to(real or source.resolve())
        return
    if files is None:
        view.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            view.symlink_to(real or source.resolve(), target_is_directory=True)
        else:
            view.mkdir()
        return
    view.mkdir(parents=True, exist_ok=True)
    base = str(real or source.resolve())  # once, not once per file and per folder above it
    for rel in files:
        link = view / rel
        if "/" in rel:
            link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(_real(base, rel))


def _real(base: str, rel: str) -> str:
    """What `Path(base, rel).resolve()` gives, for a `base` already resolved: only the parts
    of `rel` are looked at (one lstat each), and a link among them is followed as before."""
    path = base
    for part in rel.split("/"):
        path = f"{path}/{part}"
        if os.path.islink(path):
            return os.path.realpath(f"{base}/{rel}")
    return path


def empty_dir(path: str, *, keep_folders: bool = False) -> None:
    """Remove everything inside `path`; with `keep_folders`, keep its own subfolders."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_symlink() or not entry.is_dir():
                os.unlink(entry.path)
            else:
                empty_dir(entry.path)
                if not keep_folders:
                    os.rmdir(entry.path)


def link_each(source: Path, view: Path) -> None:
    """`view` as a folder of links to every file under `source` (empty if it is absent)."""
    view.mkdir(parents=True, exist_ok=True)
    for dirpath, _dirs, names in os.walk(source, followlinks=True):
        for name in names:
            target = Path(dirpath, name)
            link = view / target.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target.resolve())


def clear(folder: Path) -> None:
    """Remove a working folder, including read-only files a command left in it."""

    def writable_then_retry(func: Any, path: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(path), 0o755)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o755)
        func(path)

    shutil.rmtree(folder, onerror=writable_then_retry)
