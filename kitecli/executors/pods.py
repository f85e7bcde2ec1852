"""The pod executor: one bare pod per attempt (or batch), followed by a watch, logs kept.

Client-agnostic: it talks to a `Cluster` (kubernetes.ClusterApi in production). Re-running
after a crash adopts the pod of the same name instead of creating a second one (409).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kitecli.errors import StoreError
from kitecli.executors import live, preflight
from kitecli.executors.base import Outcome, Task
from kitecli.executors.podspec import MANAGED_BY, Mount, PodOptions, build_pod, container_name
from kitecli.executors.podstatus import Ending, is_terminal, outcomes, pull_errors, statuses
from kitecli.executors.podwait import Waits, give_up, pull_cause, started
from kitecli.executors.podwatch import Pod, PodApi, PodWatcher

SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
CANCEL_GRACE = 5  # seconds a cancelled pod gets between SIGTERM and SIGKILL


@dataclass(frozen=True)
class KubernetesOptions:
    """Where the cluster is and how kite talks to it; the defaults suit a real cluster."""

    kubeconfig: str | None = None  # default: $KUBECONFIG, else ~/.kube/config
    context: str | None = None
    in_cluster: bool | None = None  # None: in-cluster when no kubeconfig and inside a pod
    namespace: str | None = None  # when the environment names none (else the context's)
    keep_pods: bool = False
    pod: PodOptions = field(default_factory=PodOptions)
    read_only: tuple[Mount, ...] = ()  # other environments' data roots, mounted read-only
    retries: int = 8  # per API call, for 429, 5xx and broken connections
    backoff: float = 0.5  # first wait, doubled each time up to backoff_cap
    backoff_cap: float = 10.0
    watch_timeout: int = 300  # seconds one watch request stays open
    grace: float = 30.0  # kite-side timeout: stage.timeout (x batch size) + grace
    stuck_grace: float = 120.0  # how long a pod may fail to pull its image before kite gives up
    start_timeout: float = 600.0  # a pod's time to start its command, unless its stage says
    lost_margin: float = 15.0  # after a deletion mark's grace period: the pod's node is lost
    events_after: float = 60.0  # a pod not started by then: its events are shown
    live: Path | None = None  # where running attempts are named, for `kite logs -f` (live.py)


class AlreadyExists(Exception):
    """409 on create: the pod exists (adopt it)."""


class Rejected(Exception):
    """422/400: the API server refused the object itself; retrying cannot help."""


class Busy(Exception):
    """The cluster cannot take the pod now (quota exceeded, 429, 5xx): create it later."""


class Cluster(PodApi, preflight.Access, Protocol):
    namespace: str

    def pod_events(self, namespace: str, name: str) -> list[str]: ...

    def create_pod(self, namespace: str, pod: Pod) -> Pod: ...

    def read(self, kind: str, namespace: str, name: str) -> Pod | None: ...

    def delete_pod(self, namespace: str, name: str, *, grace: int | None = None) -> None: ...

    def pod_log(self, namespace: str, name: str, container: str) -> bytes: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class PodRun:
    """One pod kite follows: the tasks it runs and what the watch last said of it."""

    namespace: str
    name: str
    tasks: tuple[Task, ...]
    submitted: float
    lock: threading.Lock = field(default_factory=threading.Lock)  # one finisher
    state: Pod | None = None
    version: int | None = None  # resourceVersion when kite created or adopted it
    owned: bool = False  # kite has created or adopted its pod
    uid: str | None = None  # of that pod (not of one it replaced)
    early: list[tuple[str, Pod]] = field(default_factory=list)  # events before uid was known
    adopted: bool = False
    gone: bool = False
    ending: Ending | None = None  # kite ended it (cancel, timeout, stuck) or it was refused
    outcomes: list[Outcome] | None = None
    waits: Waits = field(default_factory=Waits)  # what kite noticed while waiting

    def ended(self) -> bool:
        return self.gone or self.ending is not None or bool(self.state and is_terminal(self.state))


@dataclass(frozen=True)
class PodHandle:
    """What submit returns: a task and the pod (shared by a batch) that runs it."""

    task: Task
    run: PodRun
    index: int  # the task's container in the pod


class PodExecutor:
    """Runs task attempts as pods; thread-safe. Batches share a pod, one container each."""

    name = "kubernetes"

    def __init__(
        self, api: Cluster, options: KubernetesOptions, *, say: Callable[[str], None] | None = None
    ) -> None:
        self.api = api
        self.options = options
        self.say = say or (lambda _message: None)  # where a pod that waits says why
        namespace = options.namespace or api.namespace
        self.pod_options = dataclasses.replace(
            options.pod, namespace=namespace, read_only=options.pod.read_only + options.read_only
        )
        self._cond = threading.Condition()
        self._runs: dict[tuple[str, str], PodRun] = {}
        self.watchers: dict[str, PodWatcher] = {}

    # -- the protocol --------------------------------------------------------------------
    def submit(self, task: Task) -> PodHandle:
        return self.submit_batch([task])[0]

    def submit_batch(self, tasks: Sequence[Task]) -> list[PodHandle]:
        """Run `tasks` (datums of one stage) in one pod, in order; one handle per task."""
        pod = build_pod(tasks, options=self.pod_options)
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self._watch(namespace)
        self._check_watch(namespace)
        run = PodRun(namespace, name, tuple(tasks), time.time())
        with self._cond:
            self._runs[(namespace, name)] = run
        try:
            self._create(run, pod)
        except BaseException:
            with self._cond:
                self._runs.pop((namespace, name), None)
            raise
        return [PodHandle(task, run, i) for i, task in enumerate(tasks)]

    def wait(self, handle: PodHandle) -> Outcome:
        run = handle.run
        with run.lock:
            if run.outcomes is None:
                self._await_end(run)
                run.outcomes = self._finish(run)
        return run.outcomes[handle.index]

    def cancel(self, handle: PodHandle) -> None:
        run = handle.run
        with self._cond:
            if run.ended():
                return
            run.ending = Ending("cancelled", "cancelled by kite", retryable=False)
            self._cond.notify_all()

    def exists(self, tasks: Sequence[Task]) -> bool:
        """True when the pod that would run `tasks` exists and is not being deleted."""
        pod = build_pod(tasks, options=self.pod_options)
        meta = pod["metadata"]
        found = self.api.read("pod", meta["namespace"], meta["name"])
        return found is not None and not found["metadata"].get("deletionTimestamp")

    def preflight(self, identities: Sequence[str], *, env: str) -> None:
        """Before anything runs: kite's rights on pods, and the stages' service accounts."""
        preflight.check(self.api, self.pod_options.namespace, identities, env=env)

    def close(self) -> None:
        for watcher in self.watchers.values():
            watcher.stop()
        with self._cond:
            leftovers = [r for r in self._runs.values() if r.owned and not r.gone]
        for run in leftovers:  # cancelled, or its wait ended in an error: stop it anyway
            self._withdraw(run)
            self.api.delete_pod(run.namespace, run.name, grace=CANCEL_GRACE)
        self.api.close()

    # -- creating ------------------------------------------------------------------------
    def _create(self, run: PodRun, pod: Pod) -> None:
        adopt = all(t.adopt for t in run.tasks)
        for _ in range(60):
            try:
                created = self.api.create_pod(run.namespace, pod)
            except Busy as exc:
                self._postpone(run, pod, str(exc))
                return
            except AlreadyExists:
                found = self.api.read("pod", run.namespace, run.name)
                if found is None:
                    continue  # deleted in between: create it again
                if found["metadata"].get("deletionTimestamp"):
                    time.sleep(0.5)  # a pod of the same name is going away: wait for it
                    continue
                if not adopt:  # a kept pod of earlier work, not this attempt's: replace it
                    self.api.delete_pod(run.namespace, run.name, grace=0)
                    continue
                run.adopted, created = True, found
            except Rejected as exc:
                run.ending = Ending("rejected", f"the cluster refused the pod: {exc}", False)
                return
            run.waits.pending = None
            self._own(run, created)
            return
        run.ending = Ending("rejected", f"pod {run.name} kept existing while being deleted")

    def _postpone(self, run: PodRun, pod: Pod, why: str) -> None:
        """The cluster cannot take the pod yet: create it again later, with backoff."""
        waits = run.waits
        delay = min(self.options.backoff * 2**waits.postponed, max(self.options.backoff_cap, 5.0))
        waits.pending, waits.pending_why, waits.retry_at = pod, why, time.time() + delay
        waits.postponed += 1
        self.tell(run, "create", f"the cluster cannot take its pod yet ({why}); retrying")

    def _own(self, run: PodRun, pod: Pod) -> None:
        """`pod` is the one kite follows for `run`: replay what the watch said of it so far."""
        with self._cond:
            run.owned, run.uid = True, pod["metadata"].get("uid")
            early, run.early = run.early, []
        self._publish(run)
        self._observe(run, pod)
        for kind, seen in early:
            self._on_pod(run.namespace, kind, seen)

    def _watch(self, namespace: str) -> None:
        with self._cond:
            if namespace in self.watchers:
                return
            self.watchers[namespace] = PodWatcher(
                self.api,
                namespace,
                SELECTOR,
                on_pod=lambda kind, pod: self._on_pod(namespace, kind, pod),
                on_list=lambda names, version: self._on_list(namespace, names, version),
                timeout=self.options.watch_timeout,
                pause=min(self.options.backoff, 1.0),
            ).start()

    # -- what the watch says -------------------------------------------------------------
    def _observe(self, run: PodRun, pod: Pod) -> None:
        with self._cond:
            version = _version(pod)
            if run.version is None:
                run.version = version
            if run.state is None or (_version(run.state) or 0) <= (version or 0):
                run.state = pod
                run.waits.causes.update(pull_errors(pod))
            self._cond.notify_all()

    def _on_pod(self, namespace: str, kind: str, pod: Pod) -> None:
        with self._cond:
            run = self._runs.get((namespace, pod["metadata"]["name"]))
            if run is None:
                return
            if not run.owned:  # kite does not know yet which pod of that name is its own
                run.early.append((kind, pod))
                return
            if run.uid and pod["metadata"].get("uid") != run.uid:
                return  # a pod of the same name that kite replaced
            self._observe(run, pod)
            if kind == "DELETED":
                run.gone = True
            self._cond.notify_all()

    def _on_list(self, namespace: str, names: set[str], version: str) -> None:
        """Pods kite follows that a full list no longer shows were deleted meanwhile."""
        listed = int(version) if version.isdigit() else None
        with self._cond:
            for (ns, name), run in self._runs.items():
                known = run.version is not None and listed is not None and run.version <= listed
                if ns == namespace and name not in names and known:
                    run.gone = True
            self._cond.notify_all()

    # -- waiting and finishing -----------------------------------------------------------
    def _await_end(self, run: PodRun) -> None:
        """Wait until the pod ends, or kite ends it (see podwait.give_up); create it again
        meanwhile if the cluster could not take it, and look up its events when they help."""
        while True:
            with self._cond:
                self._check_watch(run.namespace)
                if run.ended():
                    return
                now = time.time()
                decision = give_up(
                    run.state, run.tasks, run.submitted, run.waits, self.options, now
                )
                run.ending = decision.ending
                if decision.note is not None:
                    self.tell(run, *decision.note)
                if decision.wait:
                    self._cond.wait(timeout=0.25)
                    continue
            self._act(run, decision.ending is not None, decision.events, decision.create)

    def _act(self, run: PodRun, ended: bool, events: str | None, create: bool) -> None:
        """What a wait decided, done outside the lock: read events, create the pod again."""
        if create and run.waits.pending is not None:
            self._create(run, run.waits.pending)
        if events is None:
            return
        found = self.api.pod_events(run.namespace, run.name)
        if events == "pull":
            run.waits.events_read = True
            cause = pull_cause(found)
            if cause is not None:
                run.waits.causes.update({n: cause for n in _pulling(run.state)})
            return
        shown = "; ".join(found[-3:]) or "no warning events"
        if ended and run.ending is not None:
            run.ending = dataclasses.replace(run.ending, detail=f"{run.ending.detail}; {shown}")
        else:
            run.waits.events_read = True
            self.tell(run, "events", f"not started after {self.options.events_after:g}s: {shown}")

    def tell(self, run: PodRun, what: str, message: str) -> None:
        """Say `message` about the pod's datums, once per kind of message."""
        if what in run.waits.said:
            return
        run.waits.said.add(what)
        task = run.tasks[0]
        key = ",".join(f"{k}={v}" for k, v in sorted(task.key.items())) or "(whole)"
        more = f" and {len(run.tasks) - 1} more" if len(run.tasks) > 1 else ""
        self.say(f"{task.stage.name} {key}{more}: {message}")

    def _check_watch(self, namespace: str) -> None:
        """Raise what stopped the namespace's watch (refused, unreachable): nothing to follow."""
        watcher = self.watchers.get(namespace)
        if watcher is not None and watcher.failure is not None:
            raise watcher.failure

    def _finish(self, run: PodRun) -> list[Outcome]:
        """Read the logs, delete the pod (unless kept), and say how each task ended."""
        state = run.state
        ending = run.ending
        deleted = bool(state and state["metadata"].get("deletionTimestamp"))
        if ending is None and (deleted or not (state and is_terminal(state))):
            ending = Ending("lost", "the pod was deleted before it finished, not by kite")
        stop = ending is not None and ending.kite_reason != "lost"
        try:
            rejected = not run.owned or (ending and ending.kite_reason == "rejected")
            logs = [] if rejected else self._logs(run)
        finally:  # the pod is deleted however its logs went
            if run.owned and not run.gone and (stop or not self.options.keep_pods):
                self.api.delete_pod(run.namespace, run.name, grace=CANCEL_GRACE if stop else None)
            with self._cond:
                self._runs.pop((run.namespace, run.name), None)
            self._withdraw(run)
        base = ending or Ending()
        begun = started(state) if state else None
        ending = dataclasses.replace(base, submitted=begun or run.submitted, now=time.time())
        return outcomes(state, run.tasks, logs, ending)

    def _publish(self, run: PodRun) -> None:
        """Name the pod's attempts in the live folder: `kite logs -f` reads their logs."""
        if self.options.live is None:
            return
        config = self.options.kubeconfig or os.environ.get("KUBECONFIG") or None
        if config is not None:  # the follower may start elsewhere
            config = os.pathsep.join(os.path.abspath(p) for p in config.split(os.pathsep))
        for index, task in enumerate(run.tasks):
            where = live.PodRef(
                run.namespace,
                run.name,
                container_name(index),
                config,
                self.options.context,
                self.options.in_cluster,
            )
            live.publish(self.options.live, task, where)

    def _withdraw(self, run: PodRun) -> None:
        if self.options.live is not None:
            for task in run.tasks:
                live.withdraw(self.options.live, task)

    def _logs(self, run: PodRun) -> list[bytes]:
        """Each container's log; one that cannot be read is a note in its place."""
        found = {e.get("name"): e for e in statuses(run.state or {})}
        logs = []
        for index in range(len(run.tasks)):
            name = container_name(index)
            state = found.get(name, {}).get("state", {})
            if not ("running" in state or "terminated" in state):
                logs.append(b"")
                continue
            try:
                logs.append(self.api.pod_log(run.namespace, run.name, name))
            except StoreError as exc:
                logs.append(
                    f"[kite] the log of this attempt could not be read: {exc.message}\n".encode()
                )
        return logs


def _pulling(state: Pod | None) -> list[str]:
    """The containers of `state` waiting for an image."""
    out = []
    for entry in statuses(state or {}):
        waiting = entry.get("state", {}).get("waiting") or {}
        if "Image" in str(waiting.get("reason", "")):
            out.append(str(entry.get("name", "")))
    return out


def _version(pod: Pod) -> int | None:
    text = str(pod.get("metadata", {}).get("resourceVersion", ""))
    return int(text) if text.isdigit() else None
