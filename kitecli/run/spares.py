"""Working folders handed from one datum to the next: emptied and renamed, not made anew.

A local datum works in `.kite/work/<stage>/<key hash>` (run/claims.py), with the same
folders in it for every datum of a stage: `in/`, `out/<output>`, `tmp/`, `lists/`. Making
them for each datum and removing them after is a dozen metadata operations a loaded disk
serialises. Instead, once an attempt has been settled its folder is emptied down to those
folders and renamed to a spare name beside it (`spare-<pid>-<n>`, claimed by this apply
like a datum's folder, so another apply's sweep leaves it alone), and the next datum of
the stage renames a spare to its own folder's name: two renames instead.

Crash safety: a spare is only ever taken by the apply that emptied it (the list of spares
is in memory), so a spare a killed apply left behind, emptied or not, is never used: it is
a folder nobody holds, cleared by the next apply's sweep like any other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

from kitecli.run import claims
from kitecli.store import links


class Spares:
    """One apply's emptied working folders, by stage folder; thread-safe."""

    def __init__(self) -> None:
        self._free: dict[Path, list[Path]] = {}  # stage folder → spare folders ready
        self._names: dict[Path, list[Path]] = {}  # stage folder → claimed names not in use
        self._held: list[claims.Claim] = []
        self._lock = threading.Lock()
        self._made = 0

    def take(self, folder: Path) -> bool:
        """Move a spare to `folder` (which must not exist); False when there is none."""
        with self._lock:
            free = self._free.get(folder.parent)
            spare = free.pop() if free else None
        if spare is None:
            return False
        try:
            os.rename(spare, folder)
        except OSError:
            return False  # left where it is: cleared by the sweep at the end
        with self._lock:
            self._names.setdefault(folder.parent, []).append(spare)
        return True

    def give(self, folder: Path, keep: Iterable[str]) -> bool:
        """Empty `folder` down to the folders `keep` (relative paths) and keep it as a
        spare; False when it could not be (it is then to be removed as before)."""
        try:
            empty(folder, set(keep))
            spare = self._name(folder.parent)
            if spare is None:
                return False
            os.rename(folder, spare)
        except OSError:
            return False
        with self._lock:
            self._free.setdefault(folder.parent, []).append(spare)
        return True

    def _name(self, stage: Path) -> Path | None:
        """A claimed spare name in `stage` that no folder has now."""
        with self._lock:
            names = self._names.setdefault(stage, [])
            if names:
                return names.pop()
            self._made += 1
            spare = stage / f"spare-{os.getpid()}-{self._made}"
        held = claims.take(spare)
        if held is None:
            return None
        with self._lock:
            self._held.append(held)
        return spare

    def release_all(self) -> None:
        """Give up every spare's claim: the sweep at the end of the apply clears them."""
        with self._lock:
            held, self._held = self._held, []
            self._free.clear()
            self._names.clear()
        for claim in held:
            claim.release()


def empty(folder: Path, keep: set[str]) -> None:
    """Remove everything in `folder` but the folders `keep` (made again if a command
    removed or replaced one), which are emptied too."""
    found = _empty(str(folder), "", keep)
    for rel in sorted(keep - found):
        (folder / rel).mkdir(exist_ok=True)


def _empty(path: str, rel: str, keep: set[str]) -> set[str]:
    found = set()
    with os.scandir(path) as entries:
        for entry in entries:
            sub = f"{rel}/{entry.name}" if rel else entry.name
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
            elif sub in keep:
                found.add(sub)
                found |= _empty(entry.path, sub, keep)
            else:
                links.empty_dir(entry.path)
                os.rmdir(entry.path)
    return found
