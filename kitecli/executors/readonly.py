"""Read-only input views for local commands: a private mount namespace per attempt.

A view links to the data itself (kitecli/store/links.py), so a command that wrote through
it would change the user's raw files, which are in no store. Where kite may (Linux, root or
CAP_SYS_ADMIN), each attempt's process is started from a thread that has unshared its
mount namespace (`unshare(CLONE_NEWNS)`: per thread, so kite's other threads and every
other process keep theirs), made every mount private, and bind-mounted each folder the
views lead to read-only onto itself. The command, root or not, sees the same paths and
gets EROFS when it writes to them; kite and other commands never see these mounts, and
they vanish with the thread and the last process started from it. The datum's working
folder stays writable when it lies under such a folder (a data root at the project's
folder). Such a thread is kept for the next attempts that read the same folders (`Space`),
as long as they are the same folders (a folder replaced under a path gets a new one); a
mount made elsewhere after it (a new file system mounted while kite runs) is not seen by
the commands it starts.

Where that is not allowed (no privilege, a container without CAP_SYS_ADMIN, not Linux) or
`KITE_READONLY_VIEWS=0`, commands start as before, and the check after the attempt
(kitecli/run/inplace.py, which runs either way) fails a datum whose command changed its
inputs, naming the files. docs/store.md says why this is safe and what it costs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

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
    workdir = os.path.realpath(workdir)
    for _ in range(3):  # a namespace closed by another thread since: the one made after it
        try:
            return _spaces.get(read_only, workdir).start(spawn)
        except Closed:
            continue
        except Refused:
            break
    return spawn()  # unprotected: the check after the attempt still fails an edit


class Refused(Exception):
    """The kernel refused a namespace or a mount for this set of folders."""


class Closed(Exception):
    """The namespace was closed (replaced, or the oldest of too many) before this start."""


class Space:
    """A thread of its own in a mount namespace with `read_only` read-only and `writable`
    (a working folder under one of them, or "") writable again, that starts commands on
    request: kept for as long as the folders are the same ones (the same inodes: a bind
    mount holds on to the folder it was made of, not to its path)."""

    def __init__(self, read_only: list[str], writable: str) -> None:
        self.read_only, self.writable = read_only, writable
        self.folders = [*read_only, writable] if writable else list(read_only)
        self.marks = _marks(self.folders)
        self._requests: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self.closed = False
        self.refused: str | None = None
        thread = threading.Thread(target=self._serve, name="kite-readonly-views", daemon=True)
        thread.start()
        self._ready.wait()

    def current(self) -> bool:
        """Whether its mounts are still of the folders at those paths."""
        return _marks(self.folders) == self.marks

    def start(self, spawn: Callable[[], T]) -> T:
        """`spawn()` on this namespace's thread (what it starts inherits the namespace)."""
        if self.refused is not None:
            raise Refused(self.refused)
        box: dict[str, Any] = {}
        done = threading.Event()

        def request() -> None:
            try:
                box["started"] = spawn()
            except BaseException as exc:  # re-raised on the caller's thread
                box["error"] = exc
            done.set()

        with self._lock:  # not after close(): its thread would be gone, the wait endless
            if self.closed:
                raise Closed()
            self._requests.put(request)
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["started"]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Its thread ends once the requests made before this are served."""
        with self._lock:
            self.closed = True
            self._requests.put(None)

    def _serve(self) -> None:
        try:
            _isolate(self.read_only, self.writable)
        except OSError as exc:  # no namespace at all here: never try again; else this once
            if str(exc.strerror).startswith("unshare"):
                _state.setdefault("unavailable", str(exc.strerror))
            self.refused = str(exc.strerror)
            return
        finally:
            self._ready.set()
        while (request := self._requests.get()) is not None:
            request()


class Spaces:
    """The namespaces made so far, by the folders they make read-only; the oldest goes
    when there are `KEEP` of them (its thread ends; its commands keep their namespace)."""

    KEEP = 16

    def __init__(self) -> None:
        self._made: dict[tuple[str, ...], Space] = {}
        self._lock = threading.Lock()

    def get(self, read_only: list[str], workdir: str) -> Space:
        # a working folder under a read-only folder is mounted writable again: part of the key
        writable = workdir if any(_under(workdir, p) for p in read_only) else ""
        key = (*read_only, writable)
        with self._lock:
            found = self._made.pop(key, None)
            if found is not None and (found.closed or not found.current()):
                found.close()
                found = None
            if found is None:
                found = Space(read_only, writable)
                if found.refused is not None:
                    raise Refused(found.refused)
            self._made[key] = found  # the last used, last
            while len(self._made) > self.KEEP:
                self._made.pop(next(iter(self._made))).close()
            return found


def _marks(paths: Iterable[str]) -> list[tuple[int, int] | None]:
    """The device and inode of each path (None when it is not there)."""
    found: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((st.st_dev, st.st_ino))
    return found


_spaces = Spaces()


def _isolate(read_only: list[str], writable: str) -> None:
    """On this thread: a mount namespace of its own, private, with `read_only` read-only
    and `writable` (if not "") writable again."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        _raise("unshare")
    _mount(libc, None, "/", MS_REC | MS_PRIVATE)
    for path in read_only:
        _mount(libc, path, path, MS_BIND | MS_REC)
        _mount(libc, None, path, MS_REMOUNT | MS_BIND | MS_RDONLY)
    if writable:
        _mount(libc, writable, writable, MS_BIND | MS_REC)
        _mount(libc, None, writable, MS_REMOUNT | MS_BIND)


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
