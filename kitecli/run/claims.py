"""Claims on working folders: one datum at a time in a folder that every run names alike.

A local datum works in `.kite/work/<stage>/<key hash>`, the same folder in every run and
every environment (so a command that writes its paths into its output reproduces bytes).
Two applies of different environments may run at once on one project, so a datum first
claims its folder: an exclusive `flock` on `<folder>.lock`, held while the attempt runs.
The kernel drops the lock when its holder dies, so a crashed apply leaves no claim behind.
A claim is released by removing the lock file while still holding it; a waiter that then
gets the lock on the removed file sees that the file at the path is another (or none) and
tries again, so two holders never meet.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL = 0.1  # seconds between tries while another apply holds a folder
RACES = 100  # tries of `take` lost to a release or a sweep at the same moment


def wait_seconds() -> float:
    """How long a datum waits for a folder another apply holds (`KITE_WORKDIR_WAIT`)."""
    return float(os.environ.get("KITE_WORKDIR_WAIT", "600"))


@dataclass
class Claim:
    """A held folder: its lock file and the open descriptor that holds the lock."""

    folder: Path
    fd: int

    def release(self) -> None:
        """Give the folder up (the lock file is removed first, while still held)."""
        if self.fd < 0:
            return
        try:
            lock_path(self.folder).unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = -1


def lock_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".lock")


def take(folder: Path) -> Claim | None:
    """The claim on `folder` if nobody holds it now; None if another apply does."""
    path = lock_path(folder)
    for _ in range(RACES):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # a sweep removed the empty stage folder just then
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _same_file(fd, path):
            return Claim(folder, fd)
        os.close(fd)  # its holder released it (removed the file) as we took it: again
    return None  # lost every race: as if held (`claim` waits, boundedly)


def claim(folder: Path, *, wait: float, say: Callable[[str], None] = lambda _: None) -> Claim:
    """Claim `folder`, waiting at most `wait` seconds for another apply to finish with it.

    Raises TimeoutError (an OSError naming the folder) when the wait runs out.
    """
    deadline = time.monotonic() + wait
    said = False
    while (found := take(folder)) is None:
        if time.monotonic() >= deadline:
            raise TimeoutError(
                errno.ETIMEDOUT,
                f"another apply held it for {wait:g}s (KITE_WORKDIR_WAIT)",
                str(folder),
            )
        if not said:
            say(f"waiting (at most {wait:g}s) for another apply to finish with {folder}")
            said = True
        time.sleep(POLL)
    return found


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def sweep(work: Path) -> None:
    """Clear the datum folders under `work` nobody holds (left by a crash), and the
    stage folders left empty; folders other applies hold stay."""
    from kitecli.store import links

    if not work.is_dir():
        return
    for stage in work.iterdir():
        names = {p.name.removesuffix(".lock") for p in stage.iterdir()} if stage.is_dir() else ()
        for name in sorted(names):
            folder = stage / name
            if (held := take(folder)) is None:
                continue
            try:
                if folder.exists():
                    links.clear(folder)
            finally:
                held.release()
        with contextlib.suppress(OSError):  # not empty: another apply works there
            stage.rmdir()
    with contextlib.suppress(OSError):
        work.rmdir()


class Held:
    """The folders one apply holds, by folder; thread-safe."""

    def __init__(self) -> None:
        self._claims: dict[Path, Claim] = {}
        self._lock = threading.Lock()

    def claim(self, folders: Sequence[Path], *, say: Callable[[str], None]) -> None:
        """Claim every folder, or none (TimeoutError when one stays held too long)."""
        for folder in folders:
            try:
                found = claim(folder, wait=wait_seconds(), say=say)
            except OSError:
                self.release(folders)
                raise
            with self._lock:
                self._claims[folder] = found

    @contextlib.contextmanager
    def holding(self, folders: Sequence[Path], *, say: Callable[[str], None]) -> Iterator[None]:
        """Claim `folders` for the body and after it; released at once if the body fails."""
        self.claim(folders, say=say)
        try:
            yield
        except BaseException:
            self.release(folders)
            raise

    def release(self, folders: Sequence[Path]) -> None:
        for folder in folders:
            with self._lock:
                found = self._claims.pop(folder, None)
            if found is not None:
                found.release()

    def release_all(self) -> None:
        with self._lock:
            folders = list(self._claims)
        self.release(folders)
