"""Share work between this process and forked copies of it; results come back as bytes.

Forking is the cheapest way to run Python on every core: a child starts in about a
millisecond with everything already imported and loaded. It is only used while this
process runs a single thread (forking a threaded process can deadlock the child).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing costs start-up time on `kite hash`'s path; mypy reads this as True
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def cores() -> int:
    """How many cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking is safe: the platform has it and no other Python thread runs."""
    threading = sys.modules.get("threading")  # never imported: no threads were started
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


def fork_map(work: Callable[[T], bytes], shares: Sequence[T]) -> list[bytes]:
    """`work(share)` for every share: the first here, each other in a forked child.

    A child that fails sends its traceback; this raises RuntimeError with it.
    """
    children: list[tuple[int, int]] = []
    try:
        for share in shares[1:]:
            children.append(_spawn(work, share))
        results = [work(shares[0])] if shares else []
        for _, fd in children:
            results.append(_receive(fd))
        return results
    finally:
        for pid, fd in children:
            os.close(fd)
            os.waitpid(pid, 0)


def _spawn(work: Callable[[T], bytes], share: T) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        code = 0
        try:
            os.close(read_end)
            try:
                payload = b"+" + work(share)
            except BaseException:
                import traceback

                payload, code = b"-" + traceback.format_exc().encode(), 1
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view) :]
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _receive(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    data = b"".join(chunks)
    if data[:1] != b"+":
        raise RuntimeError("a hashing worker failed:\n" + data[1:].decode(errors="replace"))
    return data[1:]
