"""Outputs kite will not store: a link that leads out of the output, a FIFO, a socket, a
device. An output holds regular files (and links to its own files, stored as copies)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def unfit(scratch: Mapping[str, Path], *, limit: int = 3) -> list[str]:
    """What is wrong with the first `limit` unfit entries of the outputs' scratch folders,
    one line each (`NAME/REL: why`); empty when every entry can be stored."""
    found: list[str] = []
    for name, folder in scratch.items():
        if not folder.is_dir() or folder.is_symlink():
            found.append(f"{name}: {_replaced(name, folder)}")
            continue
        for dirpath, dirs, files in os.walk(folder):
            for entry in sorted([*dirs, *files]):
                path = Path(dirpath, entry)
                why = _why(path, folder)
                if why is not None:
                    found.append(f"{name}/{path.relative_to(folder).as_posix()}: {why}")
                    if len(found) == limit:
                        return found
    return found


def _why(path: Path, folder: Path) -> str | None:
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        target = os.readlink(path)
        resolved = path.resolve()
        if not resolved.is_relative_to(folder.resolve()):
            return f"a symbolic link to {target}, outside the output (copy the file in instead)"
        if not resolved.exists():
            return f"a symbolic link to {target}, which does not exist"
        if resolved.is_dir():
            return f"a symbolic link to the folder {target} (kite stores files: copy them)"
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{kind}, not a file kite can store"


def _replaced(name: str, folder: Path) -> str:
    target = f"{{{{ outputs.{name} }}}}"
    if not folder.exists() and not folder.is_symlink():
        return f"the command removed the output folder {target}; write files into it"
    what = "a symbolic link" if folder.is_symlink() else "a file"
    return (
        f"the command replaced the output folder {target} with {what}; "
        f"write files into it, e.g. {target}/{name}.txt"
    )


def unfit_reason(found: list[str]) -> str:
    """Why an attempt whose command exited 0 failed: its outputs hold `found`."""
    return "an output holds what kite does not store: " + "; ".join(found)
