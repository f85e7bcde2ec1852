"""The local executor: each attempt a subprocess in its own process group, log captured."""

from __future__ import annotations

import dataclasses
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitecli.executors import live, memory, readonly
from kitecli.executors.base import Outcome, Task
from kitecli.executors.capture import Capture
from kitecli.executors.memory import MemoryWatch
from kitecli.spec.resources import amount

KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL of a process group


@dataclass
class LocalHandle:
    """A running attempt: its process, its captured log and why it was stopped, if it was."""

    task: Task
    process: subprocess.Popen[bytes] | None
    capture: Capture
    started: float
    failed_to_start: str | None = None
    stopped: str | None = None  # "timeout" or "cancelled"
    lock: threading.Lock = field(default_factory=threading.Lock)
    memory: MemoryWatch | None = None  # the limit of `resources.memory`, if any


def run_as(uid: int | None) -> dict[str, Any]:
    """Popen arguments that run a command as `uid`, with that user's group and no other
    (not root's), when kite runs as root; none otherwise (commands run as kite does)."""
    if uid is None or os.geteuid() != 0:
        return {}
    try:
        gid = pwd.getpwuid(uid).pw_gid
    except KeyError:  # a uid with no name: its group is the number itself
        gid = uid
    return {"user": uid, "group": gid, "extra_groups": []}


def _workspace(task: Task) -> str:
    """The datum's working folder: what its views, scratch outputs and TMPDIR share."""
    paths = [*task.inputs.values(), *task.outputs.values()]
    if "TMPDIR" in task.environ:
        paths.append(task.environ["TMPDIR"])
    try:
        return os.path.commonpath(paths) if paths else task.workdir
    except ValueError:  # relative and absolute mixed: no one folder
        return task.workdir


def inherited() -> dict[str, str]:
    """kite's own environment, as a command inherits it: without kite's settings (KITE_*),
    which name the environment, the user or the run and would differ between runs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KITE_")}


class LocalExecutor:
    """Runs commands as local processes; thread-safe, no concurrency limit of its own."""

    name = "local"

    def __init__(
        self,
        *,
        inherit_environment: bool = True,
        kill_grace: float = KILL_GRACE,
        live: Path | None = None,  # where attempts' output is while they run (live.py)
    ) -> None:
        self.inherit_environment = inherit_environment
        self.kill_grace = kill_grace
        self.live = live
        self._runs: set[str] = set()  # runs whose attempts wrote into the live folder
        self._host = socket.gethostname()

    def submit(self, task: Task) -> LocalHandle:
        capture = self._capture(task)
        environ = (
            {**inherited(), **task.environ} if self.inherit_environment else dict(task.environ)
        )
        identity = run_as(task.env.run_as)
        started = time.time()
        try:
            if identity:  # the command writes its scratch outputs, and nothing else of kite's
                for folder in task.outputs.values():
                    os.chown(folder, identity["user"], identity["group"])
            process = readonly.start(
                task.inputs.values(),
                _workspace(task),
                lambda: subprocess.Popen(
                    list(task.argv),
                    cwd=task.workdir,
                    env=environ,
                    stdin=subprocess.DEVNULL,
                    stdout=capture.fd,
                    stderr=subprocess.STDOUT,
                    process_group=0,  # its own process group: a timeout kills all of it
                    **identity,
                ),
            )
        except OSError as exc:
            return LocalHandle(task, None, capture, started, failed_to_start=str(exc.strerror))
        finally:
            capture.started()
        limit = task.resources.memory
        watch = MemoryWatch(process.pid, amount(limit)) if limit and memory.available() else None
        return LocalHandle(task, process, capture, started, memory=watch)

    def wait(self, handle: LocalHandle) -> Outcome:
        process = handle.process
        if process is None:
            detail = f"cannot start {handle.task.argv[0]!r}: {handle.failed_to_start}"
            return self._outcome(handle, None, reason="cannot start", detail=detail)
        timeout = handle.task.stage.timeout
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with handle.lock:
                handle.stopped = handle.stopped or "timeout"
            self._kill(process)
            code = process.wait()
        if handle.memory is not None:
            handle.memory.stop()
            if handle.memory.killed:
                return self._out_of_memory(handle)
        reason = handle.stopped
        if reason is None and code < 0:
            reason = f"killed by signal {signal.Signals(-code).name}"
        return self._outcome(
            handle,
            code if reason is None or code >= 0 else None,
            reason=reason,
            detail=_DETAILS.get(reason or "", reason or "").format(timeout=timeout or 0),
        )

    def _capture(self, task: Task) -> Capture:
        """The attempt's capture: in the live folder, for `kite logs -f`, if there is one."""
        if self.live is None:
            return Capture()
        # the datum's folder goes with its attempt's; the run's and its stages' stay while
        # the executor does (made and removed for each datum, they cost two syscalls more)
        capture = Capture(folder=live.attempt_folder(self.live, task), levels=1)
        self._runs.add(task.run_id)
        live.describe(capture.folder, task)
        return capture

    def cancel(self, handle: LocalHandle) -> None:
        with handle.lock:
            if handle.process is None or handle.process.poll() is not None:
                return
            handle.stopped = handle.stopped or "cancelled"
        self._kill(handle.process)

    def close(self) -> None:
        """Remove the runs' folders in the live folder, once no attempt is in them."""
        if self.live is not None:
            for run_id in sorted(self._runs):
                live.remove_empty(self.live / run_id, levels=1)

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM the whole process group, SIGKILL it after the grace period."""
        for sig, grace in ((signal.SIGTERM, self.kill_grace), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            if grace is None:
                return
            try:
                process.wait(timeout=grace)
                # the leader is gone; make sure nothing else of its group lingers
                os.killpg(process.pid, signal.SIGKILL)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                pass
            return

    def _out_of_memory(self, handle: LocalHandle) -> Outcome:
        assert handle.memory is not None
        limit = handle.task.resources.memory
        detail = (
            f"out of memory: its processes held {handle.memory.peak / 2**20:.0f} MiB, more "
            f"than its memory limit ({limit}), and were killed; raise `resources.memory`"
        )
        grows = "memory" in handle.task.stage.resources.on_retry
        found = self._outcome(handle, None, reason="OOMKilled", detail=detail)
        return dataclasses.replace(found, retryable=grows)

    def _outcome(
        self, handle: LocalHandle, code: int | None, *, reason: str | None, detail: str
    ) -> Outcome:
        text = handle.capture.text()
        if detail:  # the stored log says why, as the pod executor's does
            text += f"\n[kite] {detail}\n".encode()
        pid = str(handle.process.pid) if handle.process else ""
        return Outcome(
            exit_code=code,
            started=handle.started,
            ended=time.time(),
            log=text,
            reason=reason,
            retryable=reason not in ("cancelled", "cannot start"),
            where=pid,
            node=self._host,
            detail=detail,
        )


_DETAILS = {
    "timeout": "no result within the stage's timeout ({timeout:g}s); the process group was stopped",
    "cancelled": "cancelled by kite",
}
