"""What `kite watch` waits on: a change under the input folders, seen through inotify on a
local Linux disk, else by comparing the folders' digests from a scan every few seconds
(the stat cache keeps that cheap on local disk; on an object store it is a listing)."""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# <sys/inotify.h>
_CLOSE_WRITE, _MODIFY, _ATTRIB = 0x8, 0x2, 0x4
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE = 0x40, 0x80, 0x100, 0x200
_DELETE_SELF, _MOVE_SELF, _ISDIR, _ONLYDIR = 0x400, 0x800, 0x40000000, 0x01000000
_NONBLOCK, _CLOEXEC = os.O_NONBLOCK, 0o2000000
_MASK = _CLOSE_WRITE | _MODIFY | _ATTRIB | _MOVED_FROM | _MOVED_TO | _CREATE | _DELETE
_MASK |= _DELETE_SELF | _MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


class Unwatchable(OSError):
    """inotify is not there, or its watches are used up (`fs.inotify.max_user_watches`)."""


class Inotify:
    """Watches folders (and every folder below them) and single names in a folder; `wait`
    says whether something changed there, skipping paths under `ignored`."""

    def __init__(
        self,
        folders: Sequence[Path],
        names: Mapping[Path, frozenset[str]] | None = None,
        ignored: Sequence[Path] = (),
    ) -> None:
        if not sys.platform.startswith("linux"):
            raise Unwatchable("inotify is Linux's")
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(_NONBLOCK | _CLOEXEC)
        if self.fd < 0:
            raise Unwatchable(ctypes.get_errno(), "inotify_init1 failed")
        self.ignored = [str(p) for p in ignored]
        self.dirs: dict[int, Path] = {}
        self.names: dict[int, frozenset[str]] = {}  # watches of one folder for some names
        for folder in folders:
            self._tree(folder)
        for folder, wanted in (names or {}).items():
            wd = self._add(folder)
            if wd is not None:
                self.names[wd] = wanted

    def close(self) -> None:
        os.close(self.fd)

    def wait(self, timeout: float) -> bool:
        """True as soon as something changed (within `timeout` seconds), else False."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready and self._relevant(os.read(self.fd, 65536)):
                return True
        return False

    def _relevant(self, buffer: bytes) -> bool:
        found, offset = False, 0
        while offset + _EVENT.size <= len(buffer):
            wd, mask, _cookie, size = _EVENT.unpack_from(buffer, offset)
            raw = buffer[offset + _EVENT.size : offset + _EVENT.size + size].rstrip(b"\0")
            offset += _EVENT.size + size
            name = os.fsdecode(raw)
            if wd in self.names:
                found |= name in self.names[wd]
                continue
            parent = self.dirs.get(wd)
            if parent is None or self._skipped(parent / name):
                continue
            if mask & _ISDIR and mask & (_CREATE | _MOVED_TO):
                self._tree(parent / name)  # a new folder: watch it (and what it holds)
            found = True
        return found

    def _tree(self, top: Path) -> None:
        for folder, dirs, _files in os.walk(top):
            here = Path(folder)
            dirs[:] = [d for d in dirs if not self._skipped(here / d)]
            wd = self._add(here)
            if wd is not None:
                self.dirs[wd] = here

    def _add(self, folder: Path) -> int | None:
        wd = int(self._libc.inotify_add_watch(self.fd, os.fsencode(folder), _MASK | _ONLYDIR))
        if wd >= 0:
            return wd
        code = ctypes.get_errno()
        if code == errno.ENOSPC:
            raise Unwatchable(code, "no inotify watches left (fs.inotify.max_user_watches)")
        return None  # gone meanwhile, or not a folder: nothing to watch there

    def _skipped(self, path: Path) -> bool:
        text = str(path)
        return any(text == p or text.startswith(p + os.sep) for p in self.ignored)


class Polling:
    """Compares `signature()` (the input folders' digests) every `every` seconds."""

    def __init__(
        self, signature: Callable[[], object], every: float, *, last: object = None
    ) -> None:
        self.signature = signature
        self.every = every
        self.last = signature() if last is None else last

    def close(self) -> None:
        pass

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(self.every, left))
            now = self.signature()
            if now != self.last:
                self.last = now
                return True
        return False
