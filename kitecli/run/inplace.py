"""Inputs a command changed in place. A view links to the data itself (docs/store.md), so a
command that writes to a file it reads, or adds one to a whole-directory view, changes the
user's files; kite notices by comparing what the views lead to before and after."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

Seen = dict[str, tuple[int, int, int]]  # path outside the workspace → (inode, size, mtime)


def snapshot(inputs: Mapping[str, Path], workspace: Path) -> Seen:
    """Every file the input views lead to outside `workspace`, by real path."""
    seen: Seen = {}
    inside = workspace.resolve()
    for view in inputs.values():
        for dirpath, _dirs, names in os.walk(view, followlinks=True):
            for name in names:
                path = Path(dirpath, name).resolve()
                if path.is_relative_to(inside):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                seen[str(path)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return seen


def changed(
    before: Seen, inputs: Mapping[str, Path], workspace: Path, *, root: Path, limit: int = 3
) -> tuple[list[str], int]:
    """The first `limit` files of the data changed, removed, or added to it through the views
    since `before` (as `PATH (what)`, relative to `root` where under it), and how many in
    all. A file is looked at where it is, not through the view: a tool that replaces the
    link in its view with a file of its own (`sed -i`) left the data alone."""
    found = []
    for path, was in sorted(before.items()):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            found.append(f"{_shown(path, root)} (removed)")
            continue
        if (st.st_ino, st.st_size, st.st_mtime_ns) != was:
            found.append(f"{_shown(path, root)} (changed)")
    added = sorted(snapshot(inputs, workspace).keys() - before.keys())
    found += [f"{_shown(path, root)} (added)" for path in added]
    return found[:limit], len(found)


def reason(found: list[str], count: int) -> str:
    """Why an attempt failed whose command changed its inputs in place."""
    more = f" and {count - len(found)} more" if count > len(found) else ""
    return (
        f"the command changed its inputs in place: {', '.join(found)}{more}; a view links to "
        "the data itself, so the files themselves changed (kite cannot undo this for raw "
        "data): make the command write only into its outputs"
    )


def _shown(path: str, root: Path) -> str:
    real = Path(path)
    return real.relative_to(root).as_posix() if real.is_relative_to(root) else path
