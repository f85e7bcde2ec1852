"""Run work in forked copies of this process; each sends its results back as they come.

Forking is the cheapest way to run Python on every core: a child starts in about a
millisecond with everything already imported and loaded. It is only used while this
process runs a single thread (forking a threaded process can deadlock the child).

Each child streams framed chunks of bytes through a pipe, and this process takes them
as they arrive, so whatever it does with them (storing them in the stat cache) overlaps
with the children's work instead of following it.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing costs start-up time on `kite hash`'s path; mypy reads this as True
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

Send = Callable[[bytes], None]
_HEAD = struct.Struct(">cQ")  # kind, length
_DATA, _DONE, _FAILED = b"+", b".", b"-"
PIPE_SIZE = 1 << 20


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


def fork_each(
    work: Callable[[T, Send], None], shares: Sequence[T], take: Callable[[bytes], None]
) -> None:
    """`work(share, send)` for every share, each in a forked child; `take(chunk)` here.

    `take` is called in this process with every chunk a child passes to `send`, in the
    order each child sent them, while the children still run. A child that fails sends
    its traceback; this raises RuntimeError with it (the other children are stopped by
    their broken pipes).
    """
    children: list[tuple[int, int]] = []
    try:
        for share in shares:
            children.append(_spawn(work, share))
        _gather([fd for _, fd in children], take)
    finally:
        for pid, fd in children:
            os.close(fd)
            os.waitpid(pid, 0)


def _spawn(work: Callable[[T, Send], None], share: T) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    _widen(write_end)
    pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        code = 0
        try:
            os.close(read_end)
            try:
                work(share, lambda data: _send(write_end, _DATA, data))
                _send(write_end, _DONE, b"")
            except BaseException:
                import traceback

                code = 1
                _send(write_end, _FAILED, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _widen(fd: int) -> None:
    """Let the pipe hold a whole batch (Linux: 1 MiB instead of 64 KiB), where allowed.

    A child whose pipe is full waits until this process, maybe busy storing the previous
    batch or not even scheduled on a loaded machine, reads it: a pipe that holds a batch
    lets the child go straight back to work.
    """
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):  # not Linux, or above the system's limit
        pass


def _send(fd: int, kind: bytes, data: bytes) -> None:
    view = memoryview(_HEAD.pack(kind, len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _gather(fds: list[int], take: Callable[[bytes], None]) -> None:
    """Read every child's frames as they arrive until each has said it is done."""
    import select

    poller = select.poll()
    buffers = {fd: bytearray() for fd in fds}
    for fd in fds:
        poller.register(fd, select.POLLIN)
    done: set[int] = set()
    while buffers:
        for fd, _ in poller.poll():
            chunk = os.read(fd, 1 << 20)
            if chunk:
                if _frames(buffers[fd], chunk, take):
                    done.add(fd)
                continue
            poller.unregister(fd)
            del buffers[fd]
            if fd not in done:
                raise RuntimeError("a hashing worker stopped before it was done")


def _frames(buffer: bytearray, chunk: bytes, take: Callable[[bytes], None]) -> bool:
    """Add `chunk` to `buffer`, hand on its whole frames; whether the last said done."""
    buffer += chunk
    start, finished = 0, False
    while len(buffer) - start >= _HEAD.size:
        kind, length = _HEAD.unpack_from(buffer, start)
        end = start + _HEAD.size + length
        if end > len(buffer):
            break
        payload = bytes(buffer[start + _HEAD.size : end])
        start = end
        if kind == _FAILED:
            raise RuntimeError("a hashing worker failed:\n" + payload.decode(errors="replace"))
        if kind == _DONE:
            finished = True
        else:
            take(payload)
    del buffer[:start]
    return finished
