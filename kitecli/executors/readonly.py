"""Read-only input views for local commands: a private mount namespace per attempt.

A view links to the data itself (kitecli/store/links.py), so a command that wrote through
it would change the user's raw files, which are in no store. Where kite may (Linux, root or
CAP_SYS_ADMIN), each attempt's process is started from a thread of its own that has
unshared its mount namespace (`unshare(CLONE_NEWNS)`: per thread, so kite's other threads
and every other process keep theirs), made every mount private, and bind-mounted each
folder (or file) the views lead to read-only onto itself. The command, root or not, sees
the same paths and gets EROFS when it writes to them; kite and other commands never see
these mounts, and they vanish with the command's last process. The datum's working folder
stays writable when it lies under such a folder (a data root at the project's folder).

Where that is not allowed (no privilege, a container without CAP_SYS_ADMIN, not Linux) or
`KITE_READONLY_VIEWS=0`, commands start as before, and the check after the attempt
(kitecli/run/inplace.py, which runs either way) fails a datum whose command changed its
inputs, naming the files. docs/store.md says why this is safe and what it costs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
SETTING = "KITE_READONLY_VIEWS"

_state: dict[str, str] = {}  # "unavailable": why namespaces could not be used, once found


def enabled() -> bool:
    """Whether attempts run with read-only views (unless the kernel refuses)."""
    return os.environ.get(SETTING, "1") != "0" and "unavailable" not in _state


def unavailable() -> str | None:
    """Why read-only views could not be made here, once an attempt found out."""
    return _state.get("unavailable")


def sources(views: Iterable[str], workdir: str) -> list[str]:
    """The folders of the data the input views lead to: for each view the deepest folder
    that holds everything it links to (a file's folder, not the file: a tool writing a
    new file beside it and renaming it over the old one must fail too), none inside
    `workdir`."""
    inside = os.path.realpath(workdir)
    found: set[str] = set()
    for view in views:
        outside = [t for t in _folders(view) if not _under(t, inside)]
        if outside:
            found.add(os.path.commonpath(outside))
    return sorted(found)


def _folders(view: str) -> list[str]:
    """The folder a view links to, or the folders of the files it links to."""
    if os.path.islink(view) and os.path.isdir(view):
        return [os.path.realpath(view)]
    if not os.path.isdir(view):
        return [os.path.dirname(os.path.realpath(view))] if os.path.exists(view) else []
    found = set()
    for dirpath, _dirs, names in os.walk(view):
        for name in names:
            target = os.path.realpath(os.path.join(dirpath, name))
            if os.path.exists(target):
                found.add(os.path.dirname(target))
    return sorted(found)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def start(views: Iterable[str], workdir: str, spawn: Callable[[], T]) -> T:
    """`spawn()` (which starts the command's process) with the data the input `views` lead
    to (`sources`) read-only for that process and its children; as it is, when there is
    nothing to protect or namespaces are unavailable."""
    if not enabled():
        return spawn()
    read_only = sources(views, workdir)
    if not read_only:
        return spawn()
    box: dict[str, object] = {}

    def isolated() -> None:
        try:
            _isolate(read_only, os.path.realpath(workdir))
        except OSError as exc:  # no namespace at all here: never try again; else this once
            if str(exc.strerror).startswith("unshare"):
                _state.setdefault("unavailable", str(exc.strerror))
            box["refused"] = True
            return
        try:
            box["started"] = spawn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=isolated, name="kite-readonly-views")
    thread.start()
    thread.join()
    if box.get("refused"):
        return spawn()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["started"]  # type: ignore[return-value]


def _isolate(read_only: list[str], workdir: str) -> None:
    """On this thread: a mount namespace of its own, private, with `read_only` read-only
    and `workdir` writable again if it lies under one of them."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        _raise("unshare")
    _mount(libc, None, "/", MS_REC | MS_PRIVATE)
    for path in read_only:
        _mount(libc, path, path, MS_BIND | MS_REC)
        _mount(libc, None, path, MS_REMOUNT | MS_BIND | MS_RDONLY)
    if any(_under(workdir, p) for p in read_only):
        _mount(libc, workdir, workdir, MS_BIND | MS_REC)
        _mount(libc, None, workdir, MS_REMOUNT | MS_BIND)


def _libc() -> ctypes.CDLL:
    if "libc" not in _libs:
        _libs["libc"] = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libs["libc"]


_libs: dict[str, ctypes.CDLL] = {}


def _mount(libc: ctypes.CDLL, source: str | None, target: str, flags: int) -> None:
    src = os.fsencode(source) if source is not None else None
    if libc.mount(src, os.fsencode(target), None, flags, None) != 0:
        _raise(f"mount {target}")


def _raise(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")
