"""A local attempt's output, captured through a pipe and bounded: the end of it is kept,
at most `limit` bytes and at least half that (on disk, in two segments that take turns:
when the newer one reaches half the limit, the older one is dropped), so neither memory
nor disk grows with what a command prints. `KITE_LOG_MAX_MB` sets the limit (default 64)."""

from __future__ import annotations

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


def limit() -> int:
    """The per-attempt log limit in bytes: `KITE_LOG_MAX_MB`, else 64 MiB (at least 1 KiB)."""
    raw = os.environ.get("KITE_LOG_MAX_MB", "")
    try:
        mb = float(raw) if raw else DEFAULT_MB
    except ValueError:
        mb = DEFAULT_MB
    return max(int(mb * (1 << 20)), 1 << 10)


class Capture:
    """Reads a command's stdout and stderr (give it `fd`) in a thread of its own; into
    `folder` (made, and removed at the end with its empty parents up to `levels` up) when
    given, else into a temporary folder."""

    def __init__(
        self, max_bytes: int | None = None, *, folder: Path | None = None, levels: int = 0
    ) -> None:
        self.max_bytes = max_bytes or limit()
        if folder is not None:
            _make(folder, levels)
        self.folder = folder or Path(tempfile.mkdtemp(prefix="kite-attempt-"))
        self.levels = levels
        self._read, self.fd = os.pipe()
        self.total = 0  # bytes the command wrote
        self.failed: str | None = None  # why the log could not be kept, if it could not
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="kite-log", daemon=True)
        self._thread.start()

    def started(self) -> None:
        """The command has its copy of the pipe: close kite's, so its end means EOF."""
        os.close(self.fd)

    def text(self) -> bytes:
        """Everything kept, once the command ended; a note first when the start was dropped."""
        self._thread.join(DRAIN)
        self._stop.set()
        self._thread.join()
        os.close(self._read)
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

    def _pump(self) -> None:
        half = max(self.max_bytes // 2, 1)
        segment, size = self._segment(), 0
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self._read], [], [], 0.2)
                if not ready:
                    continue
                chunk = os.read(self._read, CHUNK)
                if not chunk:
                    return
                self.total += len(chunk)
                if self.failed is not None:
                    continue  # keep draining: a command blocked on a full pipe would hang
                try:
                    os.write(segment, chunk)
                    size += len(chunk)
                    if size >= half:  # the older segment goes, this one becomes it
                        os.close(segment)
                        os.replace(self.folder / "1", self.folder / "0")
                        segment, size = self._segment(), 0
                except OSError as exc:  # a full disk: the log is lost, not the attempt
                    self.failed = exc.strerror or str(exc)
        finally:
            os.close(segment)

    def _segment(self) -> int:
        return os.open(self.folder / "1", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


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
