"""A node agent for the real API server: the part of a kubelet kite's tests need.

It registers a Node (capacity, Ready, addresses, the port of its HTTPS server), watches
the pods bound to it, runs each container's command as a local process (the way
tests/k8s/fake_kubelet.py does: a PersistentVolumeClaim is the local folder of its
PersistentVolume's hostPath), reports their status through pods/status, serves their logs
to the API server at /containerLogs/<ns>/<pod>/<container>, and ends deleted pods: it
kills the process, then deletes the pod with grace 0, as a kubelet does. What it fakes:
there are no images (the command runs on this machine, as this user), no emptyDir but the
folder as named, no probes, no resource limits (no OOMKilled, no eviction).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.k8s.controlplane.cluster import ControlPlane
from tests.k8s.controlplane.logserver import LogServer
from tests.k8s.controlplane.podrun import PodRun
from tests.k8s.fake_store import now

Pod = dict[str, Any]
NODE = "kite-node-1"
REGISTER = 30.0  # seconds the node may take to be schedulable


class NodeAgent:
    """Runs the pods the scheduler binds to node `name`; `stop()` kills what still runs."""

    def __init__(self, plane: ControlPlane, root: Path, name: str = NODE) -> None:
        from kubernetes import client, config

        self.name = name
        self.api: Any = client.CoreV1Api(config.new_client_from_config(str(plane.admin)))
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.server = LogServer(plane.ca, self.logs, name)
        self.runs: dict[str, PodRun] = {}  # by pod uid
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> NodeAgent:
        self.server.start()
        self._register()
        self.watcher.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            run.kill()
        self.server.stop()
        self.api.api_client.close()

    def lose(self, pod: str) -> None:
        """Behave as if the node of pod `pod` were lost: its process runs on, unseen; its
        status is no longer reported, its logs not served, its deletion never carried out."""
        with self.lock:
            runs = [r for r in self.runs.values() if r.name == pod]
        assert runs, f"the node agent runs no pod {pod}"
        for run in runs:
            run.partitioned.set()
        self.server.lost.add(pod)  # nor its logs

    # -- the node ------------------------------------------------------------------------
    def _register(self) -> None:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux"}
        self.api.create_node({"metadata": {"name": self.name, "labels": labels}})
        resources = {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "50Gi"}
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kite's test node agent is running",
            "lastHeartbeatTime": now(),
            "lastTransitionTime": now(),
        }
        status = {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [ready],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.server.port}},
            "nodeInfo": {"kubeletVersion": "v1.37.2", "operatingSystem": "linux"},
        }
        self.api.patch_node_status(self.name, {"status": status})
        # the not-ready taint admission put on the new node; a kubelet's controller lifts it
        self.api.patch_node(self.name, {"spec": {"taints": None}})

    # -- pods ----------------------------------------------------------------------------
    def _watch(self) -> None:
        from kubernetes.client import ApiException
        from urllib3.exceptions import HTTPError

        version = ""
        while not self.stopping.is_set():
            try:
                version = version or self._list()
                for event in self._events(version):
                    version = event["object"]["metadata"]["resourceVersion"]
                    self._on_pod(event["type"], event["object"])
            except (ApiException, HTTPError, OSError, ValueError, RuntimeError):
                version = ""  # a broken watch: list and watch again
                time.sleep(0.2)

    def _list(self) -> str:
        response = self.api.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={self.name}", _preload_content=False
        )
        listing = json.loads(response.data)
        for pod in listing["items"]:
            self._on_pod("ADDED", pod)
        version: str = listing["metadata"]["resourceVersion"]
        return version

    def _events(self, version: str) -> Iterator[Pod]:
        response = self.api.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={self.name}",
            watch=True,
            resource_version=version,
            timeout_seconds=30,
            allow_watch_bookmarks=False,
            _preload_content=False,
        )
        buffer = b""
        try:
            for chunk in response.stream(4096):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event: Pod = json.loads(line)
                    if event["type"] == "ERROR":
                        raise RuntimeError(event["object"].get("message", "watch error"))
                    yield event
        finally:
            response.release_conn()

    def _on_pod(self, kind: str, pod: Pod) -> None:
        uid = pod["metadata"]["uid"]
        with self.lock:
            run = self.runs.get(uid)
            if run is None and kind != "DELETED":
                run = PodRun(self.api, pod, self.logs, self.stopping, self.name)
                self.runs[uid] = run
                run.start()
        if run is not None and (kind == "DELETED" or pod["metadata"].get("deletionTimestamp")):
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            run.delete(0 if kind == "DELETED" or grace is None else grace)
