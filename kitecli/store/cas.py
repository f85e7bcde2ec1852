"""The local content-addressed store: blobs at `<root>/ab/cdef…`, placed by reflink or copy.

Blobs are read-only (0444) and written once (a temporary file renamed into place), so a
blob that exists is complete. A blob is trusted only while it hashes to its name: `verify`
re-hashes it where kite uses it (a restore, a run-cache hit, an ingest of bytes it already
has) and moves a corrupt one aside to `<root>/quarantine/`. Materialising puts a blob at a
path in a data directory by the first method of `order` that works there: a reflink (a
copy-on-write clone, where the file system has them) or a plain copy, so editing what lands
in a data folder cannot change the store. A hard link is a method too, for callers that ask
for it, but never the default: it would share one writable inode with the blob (chmod u+w
undoes 0444, and root ignores it). docs/store.md has the measurements.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from kitecli.errors import Damaged, KiteError, StoreError
from kitecli.scan.hashing import hash_file, to_raw
from kitecli.scan.manifest import FileEntry
from kitecli.store.blobs import TMP_PREFIX, Blob, digest_of_key

Method = Literal["reflink", "hardlink", "copy"]
METHODS: tuple[Method, ...] = ("reflink", "hardlink", "copy")
# how blobs are placed in data folders unless told otherwise: never a hard link, which would
# let an edit of the placed file change the blob itself (docs/store.md)
PLACE: tuple[Method, ...] = ("reflink", "copy")
READ_ONLY = 0o444
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
QUARANTINE = "quarantine"  # `<root>/quarantine/`: blobs whose bytes no longer match their name
_FICLONE = 0x40049409  # Linux ioctl: clone a whole file (btrfs, XFS, bcachefs, ...)
# errors that mean "this method does not work here", so the next one is tried
_UNSUPPORTED = {
    errno.EXDEV,
    errno.EPERM,
    errno.EMLINK,
    errno.EOPNOTSUPP,
    errno.ENOTSUP,
    errno.EINVAL,
    errno.ENOTTY,
    errno.ENOSYS,
    errno.EBADF,
}


class LocalCAS:
    """A content-addressed store in a local directory (`.kite/cache` by default)."""

    def __init__(self, root: Path, *, order: Sequence[Method] = PLACE) -> None:
        unknown = [m for m in order if m not in METHODS]
        if unknown or not order:
            raise KiteError(
                f"unknown materialisation method: {', '.join(unknown) or '(none)'}",
                hint="use an order of reflink, hardlink and copy",
            )
        self.root = root
        self.order = tuple(order)
        # (method, device of the destination) found not to work, so not tried again
        self._unsupported: set[tuple[Method, int]] = set()
        self._devices: dict[Path, int] = {}  # folder → its device, for `_unsupported`

    def path_of(self, digest: str) -> Path:
        """Where the blob with `digest` (`b3:<hex>`) lives, whether or not it is there."""
        hexdigest = to_raw(digest).hex()
        return self.root / hexdigest[:2] / hexdigest[2:]

    def local_path(self, digest: str) -> Path:
        return self.path_of(digest)

    def has(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def verify(self, digest: str) -> bool:
        """Whether the blob `digest` is here and its bytes still hash to its name.

        One that does not (edited in place, or damaged on disk) is moved aside to
        `<root>/quarantine/` and False returned: from then on it is missing, so what made it
        runs again instead of its bad bytes being served.
        """
        blob = self.path_of(digest)
        if not blob.is_file():
            return False
        try:
            found, _size = hash_file(blob)
        except FileNotFoundError:
            return False
        if found == digest:
            return True
        self._quarantine(blob)
        return False

    def _quarantine(self, blob: Path) -> None:
        folder = self.root / QUARANTINE
        folder.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(blob, folder / f"{blob.parent.name}{blob.name}.{time.time_ns()}")

    def ingest(
        self, path: Path, *, entry: FileEntry | None = None, move: bool = False
    ) -> FileEntry:
        """Put the file at `path` into the store; return its entry. No copy if the blob
        exists and still hashes to its name (a corrupt one is quarantined and replaced).

        `entry` is the file's digest and size when the caller knows them (from a scan), to
        save reading it. `move` lets the store take the file itself (renamed, same file
        system), for files nobody else needs, like a task's fresh output.
        """
        if entry is None:
            digest, size = hash_file(path)
            entry = FileEntry(digest, size)
        blob = self.path_of(entry.digest)
        if blob.is_file() and self.verify(entry.digest):
            return entry  # a blob of that name is trusted only once it hashes to it
        blob.parent.mkdir(parents=True, exist_ok=True)
        if move and os.lstat(path).st_nlink == 1:  # a file linked elsewhere too is copied
            try:
                os.chmod(path, READ_ONLY)
                os.replace(path, blob)
                return entry
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        self._place(path, blob, ("reflink", "copy"), expect=entry)
        return entry

    def blobs(self) -> Iterator[Blob]:
        """Every blob, every temporary file an interrupted write left and every corrupt
        blob moved to the quarantine (these two with no digest: nothing references them,
        so `gc` removes them once older than its grace period), in any order.

        A blob's time is the later of its mtime and ctime: moving a task's output into the
        store keeps the mtime the task gave it, but the rename sets the ctime.
        """
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not folder.is_dir() or (len(folder.name) != 2 and folder.name != QUARANTINE):
                continue
            for path in folder.iterdir():
                key = f"{folder.name}/{path.name}"
                digest = None if folder.name == QUARANTINE else digest_of_key(key)
                if (
                    digest is None
                    and folder.name != QUARANTINE
                    and not path.name.startswith(TMP_PREFIX)
                ):
                    continue  # not kite's: left alone
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield Blob(key, digest, st.st_size, max(st.st_mtime, st.st_ctime))

    def remove(self, blob: Blob) -> None:
        """Delete a listed blob (gone already is fine), and its folder once empty."""
        path = self.root / blob.key
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()

    def materialize(self, digest: str, dest: Path | str) -> Method:
        """Put the blob `digest` at `dest` (replacing what is there); say how it got there."""
        dest = Path(dest)
        blob = self.path_of(digest)
        if not blob.is_file():
            raise Damaged(
                f"{digest} is not in the content store at {self.root}",
                hint="run the stage that makes it again, or set `cache:` to the store that has it",
            )
        if "hardlink" in self.order:
            try:
                here, there = dest.lstat(), blob.stat()
                if (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
                    return "hardlink"  # already the blob itself
            except FileNotFoundError:
                pass
        dest.parent.mkdir(parents=True, exist_ok=True)
        return self._place(blob, dest, self.order)

    def _device(self, folder: Path) -> int:
        """The device of `folder`, asked once per folder."""
        device = self._devices.get(folder)
        if device is None:
            device = self._devices[folder] = os.stat(folder).st_dev
        return device

    def _place(
        self, source: Path, dest: Path, order: Sequence[Method], *, expect: FileEntry | None = None
    ) -> Method:
        """Link or copy `source` to `dest` atomically, by the first method that works.

        With `expect`, what was written must hash to it: a source that changed after it was
        hashed never lands in the store under the wrong name.
        """
        # a name of its own beside `dest` (each method creates it exclusively), and the
        # folder's device known without a file made and removed to ask for it
        tmp = dest.parent / f"{TMP_PREFIX}{secrets.token_hex(8)}"
        device = self._device(dest.parent)
        placed = False
        try:
            for method in order:
                if (method, device) in self._unsupported and method != order[-1]:
                    continue
                try:
                    _METHODS[method](source, tmp)
                except OSError as exc:
                    tmp.unlink(missing_ok=True)  # what a method that failed left
                    if exc.errno in _UNSUPPORTED and method != order[-1]:
                        self._unsupported.add((method, device))
                        continue
                    raise _full(exc, dest) from exc
                if stat.S_IMODE(tmp.stat().st_mode) != READ_ONLY:
                    os.chmod(tmp, READ_ONLY)
                if expect is not None:
                    _verify(tmp, source, expect)
                os.replace(tmp, dest)
                placed = True
                return method
        finally:
            if not placed:
                tmp.unlink(missing_ok=True)
        raise AssertionError("unreachable: the last method raises")


def _full(exc: OSError, dest: Path) -> Exception:
    """A full disk (or quota) said in words, naming where: nothing was stored there."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return exc
    return StoreError(
        f"cannot write {dest.name} in {dest.parent}: {exc.strerror}",
        hint="free space there (`kite gc` removes blobs nothing needs), then run `kite apply` "
        "again: what finished is in the run cache",
    )


def _verify(written: Path, source: Path, expect: FileEntry) -> None:
    digest, size = hash_file(written)
    if (digest, size) != (expect.digest, expect.size):
        raise KiteError(
            f"{source} changed while it was being stored (expected {expect.digest})",
            hint="wait until whatever writes to it is done, then run again",
        )


def _reflink(source: Path, dest: Path) -> None:
    import fcntl

    with open(source, "rb") as src, open(dest, "xb") as dst:
        fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())


def _hardlink(source: Path, dest: Path) -> None:
    os.link(source, dest)


def _copy(source: Path, dest: Path) -> None:
    """A plain copy, made read-only as it is created: in the kernel by copy_file_range
    (which shares extents where the file system can), else by reads and writes."""
    src = os.open(source, os.O_RDONLY | _CLOEXEC)
    try:
        dst = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, READ_ONLY)
        try:
            _copy_fd(src, dst, os.fstat(src).st_size)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_fd(src: int, dst: int, size: int) -> None:
    left = size
    if hasattr(os, "copy_file_range"):
        try:
            while left > 0 and (done := os.copy_file_range(src, dst, left)):
                left -= done
            return
        except OSError as exc:  # not between these files: copy the rest by hand
            if exc.errno not in _UNSUPPORTED:
                raise
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


_METHODS = {"reflink": _reflink, "hardlink": _hardlink, "copy": _copy}
