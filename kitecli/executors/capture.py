"""A local attempt's output, captured through a pipe and bounded: the end of it is kept,
at most `limit` bytes (and one read of the pipe, `CHUNK`) and at least half that (on disk,
in two segments that take turns: when the newer one reaches half the limit, the older one
is dropped), so neither memory nor disk grows with what a command prints.
`KITE_LOG_MAX_MB` sets the limit (default 64).

One thread of kite's (`Reader`, started with the first capture) reads every running
command's pipe, as they become readable: a thread made for each attempt cost more than the
trivial command it captured."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import threading
from pathlib import Path

from kitecli.executors.live import remove_empty_parents

DEFAULT_MB = 64
CHUNK = 1 << 16
DRAIN = 5.0  # seconds to read what is left once the command ended (a child may hold on)
WAKE = 0.5  # seconds between the reader's looks at captures given up while it waited


def limit() -> int:
    """The per-attempt log limit in bytes: `KITE_LOG_MAX_MB`, else 64 MiB (at least 1 KiB)."""
    raw = os.environ.get("KITE_LOG_MAX_MB", "")
    try:
        mb = float(raw) if raw else DEFAULT_MB
    except ValueError:
        mb = DEFAULT_MB
    return max(int(mb * (1 << 20)), 1 << 10)


class Capture:
    """Takes a command's stdout and stderr (give it `fd`) into `folder` (made, and removed
    at the end with its empty parents up to `levels` up) when given, else into a temporary
    folder; kite's reader thread does the reading."""

    def __init__(
        self, max_bytes: int | None = None, *, folder: Path | None = None, levels: int = 0
    ) -> None:
        self.max_bytes = max_bytes or limit()
        if folder is not None:
            _make(folder, levels)
        self.folder = folder or Path(tempfile.mkdtemp(prefix="kite-attempt-"))
        self.levels = levels
        self.total = 0  # bytes the command wrote
        self.failed: str | None = None  # why the log could not be kept, if it could not
        self.ended = threading.Event()  # the reader is done with this capture
        self.read_fd, self.fd = os.pipe()
        self._segment, self._size = self._open_segment(), 0
        self.given_up = False  # the command ended, a child still holds the pipe: stop reading
        reader().add(self)

    def started(self) -> None:
        """The command has its copy of the pipe: close kite's, so its end means EOF."""
        os.close(self.fd)

    def text(self) -> bytes:
        """Everything kept, once the command ended; a note first when the start was dropped."""
        if not self.ended.wait(DRAIN):
            reader().give_up(self)
            if not self.ended.wait(DRAIN):  # the reader thread is gone: kite's own bug
                self.failed = self.failed or "kite's log reader stopped"
                self.close()
        kept = b"".join(
            (self.folder / name).read_bytes()
            for name in ("0", "1")
            if (self.folder / name).exists()
        )
        shutil.rmtree(self.folder, ignore_errors=True)
        remove_empty_parents(self.folder, self.levels)
        if self.failed is not None:
            kept += f"\n[kite] the rest of the log was lost: {self.failed}\n".encode()
        if self.total <= len(kept):
            return kept
        return (
            f"[kite] log truncated: the first {self.total - len(kept):,} of {self.total:,} bytes "
            f"were dropped (KITE_LOG_MAX_MB keeps the last {self.max_bytes >> 20} MiB)\n".encode()
            + kept
        )

    def take(self) -> bool:
        """On the reader's thread: read what is in the pipe; False at its end."""
        chunk = os.read(self.read_fd, CHUNK)
        if not chunk:
            return False
        self.total += len(chunk)
        if self.failed is not None:
            return True  # keep draining: a command blocked on a full pipe would hang
        try:
            os.write(self._segment, chunk)
            self._size += len(chunk)
            if self._size >= max(self.max_bytes // 2, 1):  # the older segment goes
                os.close(self._segment)
                os.replace(self.folder / "1", self.folder / "0")
                self._segment, self._size = self._open_segment(), 0
        except OSError as exc:  # a full disk: the log is lost, not the attempt
            self.failed = exc.strerror or str(exc)
        return True

    def close(self) -> None:
        """On the reader's thread: the pipe and the segment closed; `text` may go on."""
        for fd in (self._segment, self.read_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.ended.set()

    def _open_segment(self) -> int:
        return os.open(self.folder / "1", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


class Reader:
    """The thread that reads every capture's pipe (epoll), and closes each at its end."""

    def __init__(self) -> None:
        self._poll = select.epoll()
        self._open: dict[int, Capture] = {}
        self._lock = threading.Lock()
        self._wake_read, self._wake = os.pipe()
        os.set_blocking(self._wake, False)
        self._poll.register(self._wake_read, select.EPOLLIN)
        thread = threading.Thread(target=self._loop, name="kite-log", daemon=True)
        thread.start()

    def add(self, capture: Capture) -> None:
        with self._lock:
            self._open[capture.read_fd] = capture
        self._poll.register(capture.read_fd, select.EPOLLIN)

    def give_up(self, capture: Capture) -> None:
        """Stop reading `capture` (its command ended; a child of it holds on to the pipe)."""
        capture.given_up = True
        with contextlib.suppress(BlockingIOError):  # full: the reader wakes up anyway
            os.write(self._wake, b".")

    def _loop(self) -> None:
        while True:
            for fd, _ in self._poll.poll(WAKE):
                if fd == self._wake_read:
                    os.read(self._wake_read, CHUNK)
                    continue
                with self._lock:
                    capture = self._open.get(fd)
                if capture is not None and not self._take(capture):
                    self._end(capture)
            with self._lock:
                dropped = [c for c in self._open.values() if c.given_up]
            for capture in dropped:
                self._end(capture)

    def _take(self, capture: Capture) -> bool:
        try:
            return capture.take()
        except OSError as exc:  # one broken capture must not stop the rest
            capture.failed = str(exc)
            return False

    def _end(self, capture: Capture) -> None:
        with self._lock:
            self._open.pop(capture.read_fd, None)
        with contextlib.suppress(OSError):
            self._poll.unregister(capture.read_fd)
        capture.close()


_readers: list[Reader] = []
_readers_lock = threading.Lock()


def reader() -> Reader:
    """kite's one reader thread, started on first use."""
    with _readers_lock:
        if not _readers:
            _readers.append(Reader())
        return _readers[0]


def _make(folder: Path, levels: int) -> None:
    """Make `folder` and its parents, although another attempt's capture that ends now may
    remove a parent it found empty (`remove_empty_parents`) between the two."""
    for _ in range(levels + 1):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return
        except FileNotFoundError:  # a parent removed under it: make it again
            continue
    folder.mkdir(parents=True, exist_ok=True)
