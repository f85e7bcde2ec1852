"""A test kubelet: runs each pod's containers as local processes and reports their status.

Volumes: each PersistentVolumeClaim is a local directory (the map the test gives); a mount
whose path differs from its directory has that prefix rewritten in the command, the
environment and the working directory. Init containers run in order, then the main one.
Fates inject what a node does to pods: OOMKilled, Evicted; missing images never pull.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.k8s.fake_apiserver import FakeApiServer
from tests.k8s.fake_store import ApiError, Event, now

Pod = dict[str, Any]
POLL = 0.02


@dataclass
class Fate:
    """What happens to the next `times` pods that `match`, `after` seconds into a container."""

    match: Callable[[Pod], bool]
    what: str  # "OOMKilled" | "Evicted"
    after: float = 0.2
    times: int = 1


@dataclass
class _Run:
    namespace: str
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: bool = False
    deleted: bool = False
    process: subprocess.Popen[bytes] | None = None


class FakeKubelet:
    """Attach to a FakeApiServer; every pod created there is run here."""

    def __init__(
        self,
        server: FakeApiServer,
        *,
        volumes: Mapping[str, Path],
        logs: Path,
        node: str = "fake-node-1",
        missing_images: tuple[str, ...] = (),
    ) -> None:
        self.server = server
        self.store = server.store
        self.volumes = dict(volumes)
        self.log_dir = logs
        self.node = node
        self.missing_images = set(missing_images)
        self.fates: list[Fate] = []
        self.runs: dict[tuple[str, str], _Run] = {}
        self.started: list[str] = []  # pod names, in the order their first container started
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        logs.mkdir(parents=True, exist_ok=True)
        server.store.listeners.append(self._on_event)
        server.logs = self.read_log
        server.on_delete = self._on_delete

    def doom(self, match: str | Callable[[Pod], bool], what: str, *, after: float = 0.2) -> None:
        """Give the next pod that matches (a name prefix or a predicate) the fate `what`."""
        test = match if callable(match) else (lambda p: p["metadata"]["name"].startswith(match))
        with self.lock:
            self.fates.append(Fate(test, what, after))

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            _kill(run.process)

    def read_log(self, namespace: str, name: str, container: str | None) -> bytes:
        path = self._log_path(namespace, name, container or "")
        if not path.exists():
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
            )
        return path.read_bytes()

    # -- events from the server ----------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.resource != "pods" or event.type != "ADDED":
            return
        run = _Run(event.namespace, event.obj["metadata"]["name"])
        for stale in self.log_dir.glob(f"{run.namespace}_{run.name}_*.log"):
            stale.unlink()  # a new pod of an old name (logs go by pod, not by name)
        with self.lock:
            self.runs[(run.namespace, run.name)] = run
        threading.Thread(target=self._run, args=(run, event.obj), daemon=True).start()

    def _on_delete(self, namespace: str, name: str) -> bool:
        """Called by the server under its lock: True if this kubelet will remove the pod."""
        with self.lock:
            run = self.runs.get((namespace, name))
        if run is None:
            return False
        with run.lock:
            if run.finished:
                return False
            run.deleted = True
        _kill(run.process)
        return True

    # -- running a pod -------------------------------------------------------------------
    def _run(self, run: _Run, pod: Pod) -> None:
        try:
            self._run_pod(run, pod)
        except ApiError:
            pass  # the pod was removed under us
        finally:
            with run.lock:
                run.finished = True
                deleted = run.deleted
            if deleted:
                self._remove(run)

    def _remove(self, run: _Run) -> None:
        with contextlib.suppress(ApiError):
            self.store.delete("pods", run.namespace, run.name)
        for path in self.log_dir.glob(f"{run.namespace}_{run.name}_*.log"):
            path.unlink()

    def _update(self, run: _Run, change: Callable[[Pod], None]) -> None:
        self.store.update("pods", run.namespace, run.name, change)

    def _run_pod(self, run: _Run, pod: Pod) -> None:
        spec = pod["spec"]
        containers = [*spec.get("initContainers", []), *spec["containers"]]
        n_init = len(containers) - 1
        started = time.time()

        def schedule(p: Pod) -> None:
            p["spec"]["nodeName"] = self.node
            p["status"].update(
                phase="Pending",
                startTime=now(),
                hostIP="10.0.0.1",
                conditions=[{"type": "PodScheduled", "status": "True"}],
            )
            first = "PodInitializing" if n_init else "ContainerCreating"
            if n_init:
                p["status"]["initContainerStatuses"] = [
                    _waiting(c, "PodInitializing") for c in p["spec"]["initContainers"]
                ]
            p["status"]["containerStatuses"] = [_waiting(c, first) for c in p["spec"]["containers"]]

        self._update(run, schedule)
        if not self._pull(run, containers, n_init):
            return
        deadline = spec.get("activeDeadlineSeconds")
        end_by = started + deadline if deadline else None
        for index, container in enumerate(containers):
            outcome = self._container(run, pod, index, n_init, container, end_by)
            if outcome != "ok":
                return self._fail(run, outcome)
        self._update(run, lambda p: p["status"].update(phase="Succeeded"))

    def _pull(self, run: _Run, containers: list[Pod], n_init: int) -> bool:
        missing = [c for c in containers if c["image"] in self.missing_images]
        if not missing:
            return True
        image = missing[0]["image"]
        for reason in ("ErrImagePull", "ImagePullBackOff"):
            message = (
                f'failed to pull and unpack image "{image}": not found'
                if reason == "ErrImagePull"
                else f'Back-off pulling image "{image}"'
            )
            self._update(run, lambda p, r=reason, m=message: _set_waiting(p, n_init, image, r, m))
            time.sleep(0.05)
        while not (run.deleted or self.stopping.is_set()):
            time.sleep(POLL)
        return False

    def _container(
        self, run: _Run, pod: Pod, index: int, n_init: int, container: Pod, end_by: float | None
    ) -> str:
        rewrites = self._rewrites(pod, container)
        if rewrites is None:  # a claim this kubelet does not have: stays ContainerCreating
            while not (run.deleted or self.stopping.is_set()):
                time.sleep(POLL)
            return "deleted"
        argv = [
            _rewrite(a, rewrites) for a in container.get("command", []) + container.get("args", [])
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update(
            {e["name"]: _rewrite(e.get("value", ""), rewrites) for e in container.get("env", [])}
        )
        cwd = _rewrite(container.get("workingDir", "/"), rewrites)
        log = self._log_path(run.namespace, run.name, container["name"])
        with run.lock:
            if run.deleted:
                return "deleted"
            with open(log, "ab") as out:
                try:
                    run.process = subprocess.Popen(
                        argv,
                        env=env,
                        cwd=cwd,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                except OSError as exc:
                    out.write(f"exec {argv[:1]}: {exc.strerror}\n".encode())
                    run.process = None
        with self.lock:
            if run.name not in self.started:
                self.started.append(run.name)
        begun = now()
        image_id = _image_id(container["image"])
        self._update(
            run,
            lambda p: _set_state(
                p,
                index,
                n_init,
                {"running": {"startedAt": begun}},
                image_id,
                "Running" if index == n_init else "Pending",
            ),
        )
        code, why = self._wait(run, pod, end_by)
        reason = why if why in ("OOMKilled",) else ("Completed" if code == 0 else "Error")
        state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": begun,
                "finishedAt": now(),
                "containerID": f"fake://{run.name}-{index}",
            }
        }
        self._update(run, lambda p: _set_state(p, index, n_init, state, image_id, None))
        if why:
            return why
        return "ok" if code == 0 else "failed"

    def _wait(self, run: _Run, pod: Pod, end_by: float | None) -> tuple[int, str | None]:
        """The exit code, and why kite's world stopped it (None: it ended by itself)."""
        process = run.process
        if process is None:
            return 127, None
        began = time.monotonic()
        fate = None
        while True:
            code = process.poll()
            if code is not None:
                return (code if code >= 0 else 128 - code), ("deleted" if run.deleted else None)
            if run.deleted or self.stopping.is_set():
                _kill(process)
                process.wait()
                return 137, "deleted"
            if end_by is not None and time.time() > end_by:
                _kill(process)
                process.wait()
                return 137, "DeadlineExceeded"
            fate = fate or self._fate_for(pod)
            if fate is not None and time.monotonic() - began >= fate.after:
                _kill(process)
                process.wait()
                return 137, fate.what
            time.sleep(POLL)

    def _fate_for(self, pod: Pod) -> Fate | None:
        with self.lock:
            for fate in self.fates:
                if fate.times > 0 and fate.match(pod):
                    fate.times -= 1
                    return fate
        return None

    def _fail(self, run: _Run, outcome: str) -> None:
        messages = {
            "DeadlineExceeded": "Pod was active on the node longer than the specified deadline",
            "Evicted": "The node was low on resource: memory. Threshold quantity: 100Mi, "
            "available: 12Mi. Container datum-0 was using 2Gi, request is 0, has larger "
            "consumption of memory.",
        }

        def fail(p: Pod) -> None:
            p["status"]["phase"] = "Failed"
            if outcome in messages:
                p["status"].update(reason=outcome, message=messages[outcome])

        self._update(run, fail)

    def _rewrites(self, pod: Pod, container: Pod) -> list[tuple[str, str]] | None:
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"].get("volumes", [])
            if "persistentVolumeClaim" in v
        }
        out = []
        for mount in container.get("volumeMounts", []):
            claim = claims.get(mount["name"])
            if claim is None:
                continue
            if claim not in self.volumes:
                return None
            local = str(self.volumes[claim] / mount.get("subPath", ""))
            if local.rstrip("/") != mount["mountPath"].rstrip("/"):
                out.append((mount["mountPath"].rstrip("/"), local.rstrip("/")))
        return sorted(out, key=lambda r: -len(r[0]))

    def _log_path(self, namespace: str, name: str, container: str) -> Path:
        return self.log_dir / f"{namespace}_{name}_{container}.log"


def _rewrite(text: str, rewrites: list[tuple[str, str]]) -> str:
    for pod_path, local in rewrites:
        if text == pod_path or text.startswith(pod_path + "/"):
            return local + text[len(pod_path) :]
    return text


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _image_id(image: str) -> str:
    name = (
        image.split("@")[0].rsplit(":", 1)[0]
        if ":" in image.split("/")[-1]
        else image.split("@")[0]
    )
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _waiting(container: Pod, reason: str, message: str | None = None) -> Pod:
    state: Pod = {"reason": reason}
    if message:
        state["message"] = message
    return {
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": {"waiting": state},
    }


def _entry(pod: Pod, index: int, n_init: int) -> Pod:
    status = pod["status"]
    if index < n_init:
        entry: Pod = status["initContainerStatuses"][index]
    else:
        entry = status["containerStatuses"][0]
    return entry


def _set_waiting(pod: Pod, n_init: int, image: str, reason: str, message: str) -> None:
    for index in range(n_init + 1):
        entry = _entry(pod, index, n_init)
        if entry["image"] == image:
            entry["state"] = {"waiting": {"reason": reason, "message": message}}


def _set_state(
    pod: Pod, index: int, n_init: int, state: Pod, image_id: str, phase: str | None
) -> None:
    entry = _entry(pod, index, n_init)
    entry["state"] = state
    entry["imageID"] = image_id
    entry["started"] = "running" in state
    entry["ready"] = "running" in state
    if phase:
        pod["status"]["phase"] = phase
