"""One pod on the node agent: its containers run in order as local processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.k8s.controlplane.kubelet_events import event, missing_image, pull_failures
from tests.k8s.controlplane.logserver import ended_path, log_path
from tests.k8s.fake_kubelet import _image_id, _kill, _rewrite, _waiting
from tests.k8s.fake_store import now

Pod = dict[str, Any]
POLL = 0.05


class PodRun:
    """Runs `pod` in a thread, reports its status, and removes it once it is deleted."""

    def __init__(
        self, api: Any, pod: Pod, logs: Path, stopping: threading.Event, node: str = ""
    ) -> None:
        self.api = api
        self.node = node
        self.partitioned = threading.Event()  # its node is lost: no status, deletion unseen
        self.pod = pod
        self.namespace = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.logs = logs
        self.stopping = stopping
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.deleted = False
        self.kill_at: float | None = None  # when a deleted pod's processes get SIGKILL
        self.finished = False
        self.status: Pod = {}

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def kill(self) -> None:
        _kill(self.process)

    def delete(self, grace: float) -> None:
        """The pod has a deletionTimestamp: SIGTERM now, SIGKILL after `grace` seconds (at once
        for grace 0), as a kubelet does; remove the pod once its processes have ended."""
        if self.partitioned.is_set():
            return  # a lost node never hears of it
        with self.lock:
            first = not self.deleted
            self.deleted = True
            finished = self.finished
            if first:
                self.kill_at = time.monotonic() + grace
        if grace <= 0:
            self.kill()
        elif first and self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        if finished:
            self._remove()

    # -- running -------------------------------------------------------------------------
    def _run(self) -> None:
        from kubernetes.client import ApiException

        try:
            if self.pod["status"].get("phase") not in ("Succeeded", "Failed"):
                self._run_pod()
        except ApiException:
            pass  # the pod went away under us
        finally:
            with self.lock:
                self.finished = True
                deleted = self.deleted
            if deleted:
                self._remove()

    def _remove(self) -> None:
        from kubernetes.client import ApiException

        uid = self.pod["metadata"]["uid"]
        # with a body the server reads the options from it alone, not from the query
        options = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        with contextlib.suppress(ApiException):
            self.api.delete_namespaced_pod(self.name, self.namespace, body=options)

    def _run_pod(self) -> None:
        spec = self.pod["spec"]
        inits, mains = spec.get("initContainers", []), spec["containers"]
        for pattern in ("*.log", "*.log.ended"):
            for stale in self.logs.glob(f"{self.namespace}_{self.name}_{pattern}"):
                stale.unlink()  # a new pod of an old name
        self._begin(inits, mains)
        missing = missing_image([*inits, *mains])
        if missing is not None:
            return self._pull_fails(missing, len(inits))
        folders = self._volumes()
        if folders is None:  # a claim without a bound hostPath volume: ContainerCreating
            message = "MountVolume.SetUp failed: the volume has no folder on this node"
            event(self.api, self.pod, "FailedMount", message, node=self.node)
            return self._idle()
        deadline = spec.get("activeDeadlineSeconds")
        end_by = time.time() + deadline if deadline else None
        for index, container in enumerate([*inits, *mains]):
            rewrites = _mounted(container, folders)  # each container its own mounts
            ok, why = self._container(index, len(inits), container, rewrites, end_by)
            if not ok:
                return self._end("Failed", why)
        self._end("Succeeded", None)

    def _begin(self, inits: list[Pod], mains: list[Pod]) -> None:
        first = "PodInitializing" if inits else "ContainerCreating"
        self.status = {
            "phase": "Pending",
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "startTime": now(),
            "conditions": _conditions(initialized=not inits, ready=False),
            "containerStatuses": [_waiting(c, first) for c in mains],
        }
        if inits:
            self.status["initContainerStatuses"] = [_waiting(c, "PodInitializing") for c in inits]
        self._report()

    def _report(self) -> None:
        if self.partitioned.is_set():
            return
        self.api.patch_namespaced_pod_status(self.name, self.namespace, {"status": self.status})

    def _pull_fails(self, container: Pod, n_init: int) -> None:
        """The image of `container` does not exist: ErrImagePull, then back-off, with events."""
        inits = self.pod["spec"].get("initContainers", [])
        index = next(
            i for i, c in enumerate([*inits, *self.pod["spec"]["containers"]]) if c is container
        )
        key = "initContainerStatuses" if index < n_init else "containerStatuses"
        position = index if index < n_init else index - n_init
        for status, cause in pull_failures(container):
            if cause is not None:
                message = f'Failed to pull image "{container["image"]}": {cause}'
                event(self.api, self.pod, "Failed", message, node=self.node)
            self.status[key][position] = status
            self._report()
            time.sleep(0.3)
        self._idle()

    def _idle(self) -> None:
        while not (self.deleted or self.stopping.is_set()):
            time.sleep(POLL)

    def _volumes(self) -> dict[str, str] | None:
        """The local folder of each claim volume; None if a claim has no local folder."""
        folders: dict[str, str] = {}
        for volume in self.pod["spec"].get("volumes", []):
            claim = volume.get("persistentVolumeClaim")
            if claim is None:
                continue
            pvc = self.api.read_namespaced_persistent_volume_claim(
                claim["claimName"], self.namespace
            )
            if not pvc.spec.volume_name:
                return None
            pv = self.api.read_persistent_volume(pvc.spec.volume_name)
            if pv.spec.host_path is None:
                return None
            folders[volume["name"]] = pv.spec.host_path.path
        return folders

    def _container(
        self,
        index: int,
        n_init: int,
        container: Pod,
        rewrites: list[tuple[str, str]],
        end_by: float | None,
    ) -> tuple[bool, str | None]:
        """Run one container; (it succeeded, why the pod failed if kite's world stopped it)."""
        argv = [
            _rewrite(a, rewrites) for a in container.get("command", []) + container.get("args", [])
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update(
            {e["name"]: _rewrite(e.get("value", ""), rewrites) for e in container.get("env", [])}
        )
        cwd = _rewrite(container.get("workingDir", "/"), rewrites)
        log = log_path(self.logs, self.namespace, self.name, container["name"])
        with self.lock:
            if self.deleted:
                return False, None
            self.process = _spawn(argv, env, cwd, log)
        begun = now()
        self._state(index, n_init, container, {"running": {"startedAt": begun}})
        code, why = self._wait(end_by)
        ended_path(log).touch()  # its log is complete: a followed stream of it ends
        reason = "Completed" if code == 0 else "Error"
        terminated = {"exitCode": code, "reason": reason, "startedAt": begun, "finishedAt": now()}
        terminated["containerID"] = f"local://{self.pod['metadata']['uid']}-{index}"
        self._state(index, n_init, container, {"terminated": terminated})
        return code == 0 and why is None, why

    def _wait(self, end_by: float | None) -> tuple[int, str | None]:
        process = self.process
        if process is None:
            return 128, None  # the command could not start: a runtime's StartError
        while True:
            code = process.poll()
            if code is not None:
                return (code if code >= 0 else 128 - code), None
            late = self.kill_at is not None and time.monotonic() > self.kill_at
            if late or self.stopping.is_set():
                _kill(process)
            elif end_by is not None and time.time() > end_by and not self.deleted:
                _kill(process)
                process.wait()
                return 137, "DeadlineExceeded"
            time.sleep(POLL)

    def _state(self, index: int, n_init: int, container: Pod, state: Pod) -> None:
        key = "initContainerStatuses" if index < n_init else "containerStatuses"
        entry = self.status[key][index if index < n_init else index - n_init]
        running = "running" in state
        entry.update(
            state=state, imageID=_image_id(container["image"]), started=running, ready=running
        )
        if index >= n_init and running:
            self.status["phase"] = "Running"
            self.status["conditions"] = _conditions(initialized=True, ready=True)
        self._report()

    def _end(self, phase: str, why: str | None) -> None:
        self.status["phase"] = phase
        self.status["conditions"] = _conditions(
            initialized=True, ready=False, reason="PodCompleted"
        )
        if why == "DeadlineExceeded":
            self.status["reason"] = why
            self.status["message"] = "Pod was active on the node longer than the specified deadline"
        self._report()


def _mounted(container: Pod, folders: dict[str, str]) -> list[tuple[str, str]]:
    """(mount path, local folder) of each claim `container` mounts, longest path first."""
    out = []
    for mount in container.get("volumeMounts", []):
        if mount["name"] in folders:
            local = os.path.join(folders[mount["name"]], mount.get("subPath", ""))
            out.append((mount["mountPath"].rstrip("/"), local.rstrip("/")))
    return sorted(set(out), key=lambda r: -len(r[0]))


def _spawn(
    argv: list[str], env: dict[str, str], cwd: str, log: Path
) -> subprocess.Popen[bytes] | None:
    with open(log, "ab") as out:
        try:
            return subprocess.Popen(
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
            return None


def _conditions(*, initialized: bool, ready: bool, reason: str | None = None) -> list[Pod]:
    def condition(kind: str, holds: bool) -> Pod:
        out: Pod = {
            "type": kind,
            "status": "True" if holds else "False",
            "lastTransitionTime": now(),
        }
        if reason and not holds:
            out["reason"] = reason
        return out

    return [
        condition("Initialized", initialized),
        condition("ContainersReady", ready),
        condition("Ready", ready),
    ]
