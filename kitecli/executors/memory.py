"""A memory limit for local processes, as a container's is: when the resident memory of
an attempt's process group goes over `resources.memory`, the group is killed and the
attempt ends `OOMKilled`. Read from /proc ten times a second (Linux); elsewhere there is
no limit, and `available()` says so."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

PERIOD = 0.1  # seconds between looks
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def available() -> bool:
    return Path("/proc/self/stat").exists()


def resident(group: int) -> int:
    """Bytes of resident memory of the processes in process group `group`."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[2]) == group:  # after the name: state, ppid, pgrp, ..., rss (22nd)
            total += int(fields[21]) * _PAGE
    return total


class MemoryWatch:
    """Kills process group `group` once it holds more than `limit` bytes; `peak` is the
    most it was seen holding, `killed` whether it was killed for it."""

    def __init__(self, group: int, limit: float) -> None:
        self.group = group
        self.limit = limit
        self.peak = 0
        self.killed = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="memory-limit")
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(PERIOD):
            used = resident(self.group)
            self.peak = max(self.peak, used)
            if used > self.limit:
                self.killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.group, signal.SIGKILL)
                return
