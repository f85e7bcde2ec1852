"""The store backend on local disk: create-only by hard link, swap under an O_EXCL lock file.

A new key is written to a temporary file beside it and hard-linked into place, which fails
if the key exists, so a reader never sees half a file. A swap takes `<key>.kite-lock` with
O_CREAT|O_EXCL, checks the current version, writes a temporary file and `os.replace`s it.
A lock file left by a killed process is broken after STALE_LOCK seconds (a swap holds it for
milliseconds). Tokens are `inode-mtime_ns-size` of the file a reader opened.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kitecli.errors import StoreError
from kitecli.store.backend import Stat, Versioned, check_key

if TYPE_CHECKING:
    from kitecli.store.backend import Backend

STALE_LOCK = 30.0  # a lock older than this is its holder's, dead on some host
LOCK_WAIT = 45.0  # longer than STALE_LOCK, so a waiter outlasts a dead holder
TMP_MARK = ".kite-tmp-"
LOCK_MARK = ".kite-lock"


def _token(st: os.stat_result) -> str:
    return f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"


class LocalBackend:
    """A directory on local (or network) disk."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.url = root

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def read(self, key: str) -> Versioned | None:
        try:
            with open(self._path(key), "rb") as handle:
                token = _token(os.fstat(handle.fileno()))
                return Versioned(handle.read(), token)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _store_error(self.root, exc) from exc

    def _write_tmp(self, path: str, data: bytes, *, sync: bool = True) -> str:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f"{TMP_MARK}{os.getpid()}-{secrets.token_hex(6)}")
        with open(tmp, "xb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        return tmp

    def create(
        self, key: str, data: bytes, *, digest: str | None = None, durable: bool = True
    ) -> str | None:
        path = self._path(key)
        try:
            tmp = self._write_tmp(path, data, sync=durable)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return None
            finally:
                os.unlink(tmp)
            return _token(os.stat(path))
        except OSError as exc:
            raise _store_error(self.root, exc) from exc

    def swap(self, key: str, data: bytes, *, token: str) -> str | None:
        path = self._path(key)
        try:
            with _locked(path + LOCK_MARK):
                try:
                    current = _token(os.stat(path))
                except FileNotFoundError:
                    return None
                if current != token:
                    return None
                tmp = self._write_tmp(path, data)
                os.replace(tmp, path)
                return _token(os.stat(path))
        except OSError as exc:
            raise _store_error(self.root, exc) from exc

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def head(self, key: str) -> Stat | None:
        try:
            st = os.stat(self._path(key))
        except FileNotFoundError:
            return None
        return Stat(key, _token(st), st.st_size)

    def list(self, prefix: str) -> Iterator[Stat]:
        top = self._path(prefix) if prefix.strip("/") else self.root
        for folder, _dirs, names in os.walk(top):
            rel = os.path.relpath(folder, self.root).replace(os.sep, "/")
            for name in names:
                if TMP_MARK in name or name.endswith(LOCK_MARK):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(os.path.join(folder, name))
                    yield Stat(key, _token(st), st.st_size, modified=st.st_mtime)

    def upload(self, key: str, source: str, *, digest: str | None = None) -> None:
        copy_file(source, self._path(key))

    def download(self, key: str, dest: str) -> None:
        copy_file(self._path(key), dest)

    def copy(self, source: Backend, key: str, dest_key: str, *, digest: str | None) -> None:
        if isinstance(source, LocalBackend):
            copy_file(source._path(key), self._path(dest_key))
        else:
            source.download(key, self._path(dest_key))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))


@contextlib.contextmanager
def _locked(lock: str) -> Iterator[None]:
    """Hold `lock` (created with O_EXCL) for the body; break it if its holder died."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _break_stale(lock) or time.monotonic() < deadline:
                time.sleep(0.005)
                continue
            raise StoreError(
                f"{lock} has been locked for more than {LOCK_WAIT:.0f} s",
                hint="another kite process is updating this ref; if none is, delete the file",
            ) from None
        break
    try:
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def _break_stale(lock: str) -> bool:
    """Remove `lock` if it is older than STALE_LOCK; True if it was removed by us."""
    try:
        st = os.stat(lock)
    except FileNotFoundError:
        return True
    if time.time() - st.st_mtime < STALE_LOCK and not _holder_gone(lock):
        return False
    aside = f"{lock}.{TMP_MARK}{secrets.token_hex(6)}"
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return True
    moved = os.stat(aside)
    if moved.st_ino != st.st_ino:  # a live holder re-created it meanwhile: put it back
        with contextlib.suppress(FileExistsError):
            os.link(aside, lock)
        os.unlink(aside)
        return False
    os.unlink(aside)
    return True


def _holder_gone(lock: str) -> bool:
    """True when the lock names a process of this host that no longer runs."""
    try:
        with open(lock) as handle:
            pid, host = handle.read().split()
    except FileNotFoundError:
        return True
    except ValueError:  # being written, or written by another version: not ours to judge
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def copy_file(source: str, dest: str) -> None:
    """Copy through a temporary file beside `dest`, so `dest` is whole or absent."""
    folder = os.path.dirname(dest) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f"{TMP_MARK}{secrets.token_hex(6)}")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _store_error(root: str, exc: OSError) -> StoreError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "check the permissions of the metadata directory"
    else:
        hint = "check that the directory exists and the disk is not full"
    return StoreError(f"cannot write to {root}: {exc.strerror or exc}", hint=hint)
