"""blake3 digests of bytes and files, written `b3:<64 hex>`; the read strategy per file size.

Measured on a 2-core machine (bench/strategies.py, bench/README.md): one `read` into a
reused buffer is the cheapest way to hash a file up to about 1 MiB; above that, mapping the
file is faster, and for large files blake3's own threads help (for many small files they
only cost). Many files are spread over processes by `kitecli.scan.scanner`, not threads: a
thread pool over files is slower than one process.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import stat
from typing import Any

from blake3 import blake3

PREFIX = "b3:"
MMAP_MIN = 1 << 20  # from this size on, map the file instead of reading it
THREADS_MIN = 16 << 20  # from this size on, blake3 hashes one file with its own threads
_CHUNK = 4 << 20


class FileChanged(Exception):
    """The file changed while it was being hashed (its stat before and after differ)."""


def utf8(text: str) -> bytes:
    """The UTF-8 bytes of `text`; the lone surrogates by which Python spells the undecodable
    bytes of a file name (`os.fsdecode`) become those bytes again (docs/manifests.md)."""
    return text.encode("utf-8", "surrogateescape")


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON-like value: sorted keys, no spaces, UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return utf8(text)


def digest_bytes(data: bytes) -> str:
    """The digest of a byte string."""
    return PREFIX + blake3(data).hexdigest()


def raw_digest(data: bytes) -> bytes:
    """The 32-byte blake3 of a byte string."""
    digest: bytes = blake3(data).digest()
    return digest


def to_text(raw: bytes) -> str:
    """`b3:<hex>` of a 32-byte digest."""
    return PREFIX + raw.hex()


def to_raw(digest: str) -> bytes:
    """The 32 bytes of a `b3:<hex>` digest; ValueError if it is not one."""
    if not digest.startswith(PREFIX) or len(digest) != len(PREFIX) + 64:
        raise ValueError(f"not a b3 digest: {digest!r}")
    return bytes.fromhex(digest[len(PREFIX) :])


def hash_fd(fd: int, size: int) -> tuple[bytes, int]:
    """The 32-byte digest and length of the open file `fd`, expected to be `size` bytes."""
    if size < MMAP_MIN:
        data = os.read(fd, size + 1)
        if len(data) <= size:  # the whole file in one read: the common case
            return blake3(data).digest(), len(data)
        hasher = blake3(data)
        total = len(data)
        while chunk := os.read(fd, _CHUNK):
            hasher.update(chunk)
            total += len(chunk)
        return bytes(hasher.digest()), total
    threads: int = blake3.AUTO if size >= THREADS_MIN else 1
    hasher = blake3(max_threads=threads)
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
        hasher.update(mapped)
        total = len(mapped)
    return bytes(hasher.digest()), total


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The digest and size of one file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        raw, size = hash_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return to_text(raw), size


def same_file(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether two stats show the same unchanged file (identity, size and times)."""
    return (
        before.st_ino == after.st_ino
        and before.st_dev == after.st_dev
        and before.st_size == after.st_size
        and before.st_mtime_ns == after.st_mtime_ns
        and before.st_ctime_ns == after.st_ctime_ns
    )


_QUICK_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def read_buffer() -> memoryview:
    """A buffer for `quick_digest`, one per scan (reusing it spares an allocation per file)."""
    return memoryview(bytearray(MMAP_MIN + 1))


def quick_digest(path: str, before: os.stat_result, buffer: memoryview) -> bytes | None:
    """The 32-byte digest of a small file that holds still, in one read; None otherwise.

    The fast path for many small files: open, one read into `buffer` (from read_buffer()),
    fstat, close. None means: use `hash_checked` (the file is large, moved, or could not be
    opened).
    """
    size = before.st_size
    if size >= len(buffer):
        return None
    try:
        fd = os.open(path, _QUICK_FLAGS)
    except OSError:
        return None
    try:
        got = os.readv(fd, (buffer[: size + 1],))
        after = os.fstat(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    if (
        got != size
        or after.st_mtime_ns != before.st_mtime_ns
        or after.st_ctime_ns != before.st_ctime_ns
        or after.st_ino != before.st_ino
    ):  # the open file is the one listed (inode) and it did not move (times, size)
        return None
    digest: bytes = blake3(buffer[:got]).digest()
    return digest


def hash_checked(
    path: str | bytes, before: os.stat_result, *, follow: bool = False, attempts: int = 3
) -> tuple[bytes, os.stat_result]:
    """The 32-byte digest of the regular file `path` and the stat it was taken at.

    `before` is the stat seen when listing the directory. The file is stat'ed again through
    the open descriptor after reading: if anything moved it is re-read, up to `attempts`
    times, then FileChanged. Without `follow`, a file that became a symlink is a change too.
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    for _ in range(attempts):
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # replaced by a symlink since it was listed
                raise FileChanged(os.fsdecode(path)) from exc
            raise
        try:
            raw, size = hash_fd(fd, before.st_size)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        if size == before.st_size and same_file(before, after):
            return raw, after
        before = os.stat(path, follow_symlinks=follow)
        if not stat.S_ISREG(before.st_mode):
            break
    raise FileChanged(os.fsdecode(path))
