"""`kite logs -f` for attempts that run in pods: each pod's log, read through the API server
as it is written (`follow=true`), with the same face as live.Tail.

Bounded: a tail ends when its container has ended and the stream said all, when its pod is
gone, when its attempt ends (its live folder goes) and the stream has not ended within
DRAIN seconds, or after RETRIES broken streams in a row (with backoff between them). A
stream opened again skips the bytes already read. A tail that ended before it read the
whole log is `complete = False`: the follower shows the stored log instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from kitecli.errors import KiteError
from kitecli.executors.kubernetes_logs import ClusterLogs, LogBroken, LogWaiting
from kitecli.executors.live import PodRef, Running
from kitecli.executors.podstatus import statuses
from kitecli.executors.podwatch import Pod

RETRIES = 5  # broken streams in a row before a tail gives up
BACKOFF = 0.5  # seconds before the first new try, doubled each time up to BACKOFF_CAP
BACKOFF_CAP = 8.0
WAITING = 1.0  # seconds between two looks at a container that has not started
DRAIN = 5.0  # seconds a stream may take to end once its attempt ended
LATER = "its stored log is shown when the run ends"


class LogSource(Protocol):
    """The cluster, as a tail needs it (kubernetes_logs.ClusterLogs)."""

    def read(self, namespace: str, name: str) -> Pod | None: ...

    def follow_log(self, namespace: str, name: str, container: str) -> Iterator[bytes]: ...


def container_state(pod: Pod | None, container: str) -> str:
    """ "gone", "ended", "running" or "waiting" (with its reason: "waiting: ContainerCreating")."""
    if pod is None:
        return "gone"
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return "ended"
    for entry in statuses(pod):
        if entry.get("name") == container:
            state = entry.get("state") or {}
            if "terminated" in state:
                return "ended"
            if "running" in state:
                return "running"
            reason = (state.get("waiting") or {}).get("reason")
            return f"waiting: {reason}" if reason else "waiting"
    return "waiting"


class PodTail:
    """Reads what a pod attempt writes, in a thread of its own; `ended` once it is over."""

    def __init__(
        self, found: Running, source: LogSource, say: Callable[[str], None] | None = None
    ) -> None:
        assert found.pod is not None
        self.folder = found.folder
        self.pod: PodRef = found.pod
        self.source = source
        self.say = say or (lambda _message: None)
        key = ",".join(f"{k}={v}" for k, v in sorted(found.key.items())) or "(whole)"
        self.what = f"{found.stage} {key} (pod {found.pod.name})"
        self.complete = False  # the whole log was read
        self._offset = 0  # bytes of the log read so far
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stop = threading.Event()
        self._gone_at: float | None = None  # when its live folder went
        self._said: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="kite-pod-log", daemon=True)
        self._thread.start()

    @property
    def ended(self) -> bool:
        with self._lock:
            return self._done.is_set() and not self._chunks

    def read(self) -> bytes:
        """What the pod wrote since the last read."""
        if not self._done.is_set() and not self.folder.exists():
            self._gone_at = self._gone_at or time.monotonic()
            if time.monotonic() - self._gone_at > DRAIN:  # its attempt ended long ago
                self._stop.set()
                self._done.set()
                self._tell(
                    "cut",
                    f"{self.what}: its attempt ended {DRAIN:g}s ago, its log's "
                    f"stream did not; {LATER}",
                )
        with self._lock:
            chunks, self._chunks = self._chunks, []
        return b"".join(chunks)

    def close(self) -> None:
        """Stop following; a stream that hangs (a lost node) ends with the process."""
        self._stop.set()

    # -- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._follow()
        except KiteError as exc:  # refused: more tries cannot help
            self._tell(
                "refused", f"{self.what}: its log cannot be followed: {exc.message}; {LATER}"
            )
        except Exception as exc:  # its client closed under it at the end, or worse
            if not self._stop.is_set():
                self._tell("failed", f"{self.what}: following its log failed ({exc!r}); {LATER}")
        finally:
            self._done.set()

    def _follow(self) -> None:
        broken, delay = 0, BACKOFF
        while not self._stop.is_set():
            before, problem = self._offset, None
            try:
                self._stream()
            except (LogBroken, LogWaiting) as exc:
                problem = str(exc)
            state = self._state()
            if state in ("gone", "ended"):
                self.complete = problem is None
                return
            if state.startswith("waiting"):  # not started: no log yet, or an empty one
                self._tell("waiting", f"{self.what}: waiting for its container to start ({state})")
                self._stop.wait(WAITING)
                continue
            moved = self._offset > before
            if state == "running" and problem is None:  # the server ended a quiet stream
                self._stop.wait(0 if moved else BACKOFF)
                continue
            broken = 1 if moved else broken + 1
            if broken > RETRIES:
                return self._give_up(problem or f"its pod's state is {state}")
            self.say(
                f"{self.what}: {problem or 'its state cannot be read'}; following it again "
                f"in {delay:g}s (try {broken} of {RETRIES})"
            )
            self._stop.wait(delay)
            delay = BACKOFF if moved else min(delay * 2, BACKOFF_CAP)

    def _stream(self) -> None:
        """Read one stream of the log, which starts at the log's start: what an earlier
        stream read is dropped."""
        seen = 0
        for chunk in self.source.follow_log(self.pod.namespace, self.pod.name, self.pod.container):
            if self._stop.is_set():
                break
            fresh = chunk[max(self._offset - seen, 0) :]
            seen += len(chunk)
            if fresh:
                with self._lock:
                    self._chunks.append(fresh)
                    self._offset += len(fresh)

    def _state(self) -> str:
        try:
            pod = self.source.read(self.pod.namespace, self.pod.name)
        except KiteError as exc:
            self._tell("state", f"{self.what}: its state cannot be read: {exc.message}")
            return "unknown"
        return container_state(pod, self.pod.container)

    def _give_up(self, problem: str) -> None:
        self._tell(
            "gave-up",
            f"{self.what}: stopped following its log after {RETRIES} broken streams "
            f"({problem}); {LATER}",
        )

    def _tell(self, kind: str, message: str) -> None:
        if kind not in self._said:
            self._said.add(kind)
            self.say(message)


class Clients:
    """One connection per cluster the followed pods run on, made when first needed."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self._open: dict[tuple[str | None, str | None, bool | None], ClusterLogs | None] = {}

    def tail(self, found: Running) -> PodTail | None:
        """A tail of the pod attempt `found`; None when its cluster cannot be reached."""
        assert found.pod is not None
        pod = found.pod
        key = (pod.kubeconfig, pod.context, pod.in_cluster)
        if key not in self._open:
            self._open[key] = self._connect(pod)
        source = self._open[key]
        return None if source is None else PodTail(found, source, self.say)

    def _connect(self, pod: PodRef) -> ClusterLogs | None:
        later = "the pods' output is shown when the run ends"
        try:
            return ClusterLogs.connect(pod)
        except ImportError as exc:
            self.say(f"the Kubernetes client is not installed ({exc}): {later}")
        except KiteError as exc:
            self.say(f"cannot follow pods in {pod.namespace}: {exc.message}; {later}")
        return None

    def close(self) -> None:
        for source in self._open.values():
            if source is not None:
                source.close()
        self._open.clear()
