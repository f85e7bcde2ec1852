"""`kite install` and `kite apply` through the command line against a real kube-apiserver.

An administrator (the admin kubeconfig) runs `kite install`; kite applies as the user
`kite`, who may only do what docs/kubernetes.md asks. The project lives on the claim's
folder, which the node agent's pods see at the same path.
"""

from __future__ import annotations

import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kitecli.history import ledger
from kitecli.history.records import run_to_json
from kitecli.store import open_repo
from tests.e2e import DAYS, calls
from tests.helpers import Result, kite, start
from tests.k8s.controlplane.faultproxy import FaultProxy
from tests.k8s.controlplane.fixtures import RealCluster, prepare
from tests.k8s.fixtures import CLAIM
from tests.k8s.project import make_cluster_project, tree


@dataclass
class Space:
    cluster: RealCluster
    namespace: str
    volume: Path

    def kite(
        self, root: Path, *args: str, admin: bool = False, via: Path | None = None, **env: str
    ) -> Result:
        """`kite ARGS` as the user `kite` (or the administrator, or through a proxy's config)."""
        config = via or (self.cluster.plane.admin if admin else self.cluster.plane.kite)
        return kite(*args, cwd=root, env={"KUBECONFIG": str(config), **env})

    def running(self) -> set[str]:
        api = self.cluster.admin()
        try:
            pods = api.list_namespaced_pod(self.namespace).items
            return {p.metadata.name for p in pods if p.status.phase == "Running"}
        finally:
            api.api_client.close()

    def pod_names(self) -> list[str]:
        api = self.cluster.admin()
        try:
            return [p.metadata.name for p in api.list_namespaced_pod(self.namespace).items]
        finally:
            api.api_client.close()


@pytest.fixture
def space(real_cluster: RealCluster, tmp_path: Path) -> Space:
    namespace = "kite-" + uuid.uuid4().hex[:8]
    prepare(real_cluster, namespace, tmp_path / "volume", [], CLAIM)
    return Space(real_cluster, namespace, tmp_path / "volume")


def test_install_then_apply_as_the_limited_user(space: Space) -> None:
    root = make_cluster_project(space, namespace=space.namespace)
    refused = space.kite(root, "install", "--env", "kube")
    assert refused.code != 0  # the user `kite` may not create service accounts
    assert "forbidden" in refused.stderr, refused.stderr
    installed = space.kite(root, "install", "--env", "kube", admin=True)
    assert installed.code == 0, installed.stderr
    assert "created" in installed.stdout + installed.stderr
    again = space.kite(root, "install", "--env", "kube", admin=True)
    assert again.code == 0, again.stderr
    assert "created" not in again.stdout + again.stderr  # idempotent
    local = space.kite(root, "apply", "--env", "dev")
    assert local.code == 0, local.stderr
    local_calls = sorted(calls(root / "calls.log"))
    pods = space.kite(root, "apply", "--env", "kube")
    assert pods.code == 0, pods.stderr
    assert sorted(calls(root / "calls.log")) == local_calls  # the same work, once each
    assert len(local_calls) == len(DAYS) * 2 + 1
    assert tree(root / "data-kube") == tree(root / "data-dev")
    lock = yaml.safe_load((root / "kite.lock").read_text())["environments"]
    for section in lock.values():
        section.pop("commit")
    assert lock["kube"] == lock["dev"]
    logs = space.kite(root, "logs", "last", "--env", "kube")
    assert logs.code == 0, logs.stderr
    assert "clean processing 2024-01-02.csv" in logs.stdout  # read through the API server
    deadline = time.monotonic() + 30
    while space.pod_names():  # kite deleted them; the node agent removes them
        assert time.monotonic() < deadline, f"pods left after 30 s: {space.pod_names()}"
        time.sleep(0.1)
    unchanged = space.kite(root, "apply", "--env", "kube")
    assert unchanged.code == 0, unchanged.stderr
    assert "No changes" in unchanged.stderr + unchanged.stdout


def created(proxy: FaultProxy) -> int:
    """How many pods the API server created for kite (201 answers to a pod POST; the
    preflight's dry runs create nothing)."""
    return sum(
        1 for m, p, code in proxy.answers if m == "POST" and p.endswith("/pods") and code == 201
    )


def test_kill_9_during_an_apply_then_apply_again(space: Space, tmp_path: Path) -> None:
    """The second apply adopts the pods the killed one left: none twice, none lost."""
    proxy = FaultProxy(space.cluster.plane, tmp_path).start()  # it counts the creates
    try:
        root = make_cluster_project(space, namespace=space.namespace, env={"STEP_SLEEP": "3"})
        assert space.kite(root, "install", "--env", "kube", admin=True).code == 0
        environ = {"KUBECONFIG": str(proxy.kubeconfig), "KITE_LEASE_TTL": "2"}
        first = start("apply", "--env", "kube", "--parallel", "3", cwd=root, env=environ)
        try:
            _wait(lambda: len(space.running()) == len(DAYS), "the first apply's pods to run", 90)
        finally:
            first.signal(signal.SIGKILL)
            first.stop()
        running = space.running()
        time.sleep(2.5)  # its lease expires
        again = space.kite(root, "apply", "--env", "kube", via=proxy.kubeconfig, KITE_LEASE_TTL="2")
        assert again.code == 0, again.stderr
        assert created(proxy) == len(DAYS) * 2 + 1  # no pod was created twice
        ran = calls(root / "calls.log")
        assert sorted(line for line in ran if line.startswith("clean ")) == [
            f"clean {day}.csv" for day in DAYS
        ]  # each datum ran once, in the pod the killed apply started
        assert len(running) == len(DAYS)
        assert (root / "data-kube/total/all.txt").read_text() == "9\n"  # none lost
        fsck = space.kite(root, "fsck", "--env", "kube")
        assert fsck.code == 0, fsck.stdout + fsck.stderr
    finally:
        proxy.stop()


def _wait(check, what: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_ctrl_c_deletes_the_pods_and_records_them_cancelled(space: Space) -> None:
    root = make_cluster_project(space, namespace=space.namespace, env={"STEP_SLEEP": "60"})
    assert space.kite(root, "install", "--env", "kube", admin=True).code == 0
    environ = {"KUBECONFIG": str(space.cluster.plane.kite)}
    apply = start("apply", "--env", "kube", "--parallel", "3", cwd=root, env=environ)
    try:
        _wait(lambda: len(space.running()) == len(DAYS), "the apply's pods to run", 90)
        apply.signal(signal.SIGINT)
        stopped = apply.result(timeout=60)
    finally:
        apply.stop()
    assert stopped.code == 130, stopped.stderr
    _wait(lambda: space.pod_names() == [], f"the cancelled pods to go: {_pods(space)}", 30)
    repo = open_repo(str(root / "meta-kube"))
    last = run_to_json(next(iter(ledger.runs(repo, "kube"))))["attempts"]
    assert sorted((a["stage"], a["status"]) for a in last) == [("clean", "cancelled")] * len(DAYS)
    assert not (space.volume / ".kite" / "tmp" / "kube").exists()


def _pods(space: Space) -> list[tuple[str, str, object]]:
    api = space.cluster.admin()
    try:
        pods = api.list_namespaced_pod(space.namespace).items
        return [(p.metadata.name, p.status.phase, p.metadata.deletion_timestamp) for p in pods]
    finally:
        api.api_client.close()
