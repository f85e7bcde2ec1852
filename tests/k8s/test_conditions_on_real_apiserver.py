"""What real clusters do to an apply, through `kite apply` against the real API server: rights
missing, the server down, quota, a log that cannot be read, a fatal error, a pod that cannot
be scheduled. Each ends with a clear message, the right exit code, no pod twice, none lost."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from kitecli.history import ledger
from kitecli.history.records import run_to_json
from kitecli.store import open_repo
from tests.e2e import DAYS
from tests.helpers import Result, start
from tests.k8s.controlplane.cluster import free_port
from tests.k8s.controlplane.faultproxy import FaultProxy
from tests.k8s.controlplane.fixtures import KITE_RULES, RealCluster, prepare
from tests.k8s.controlplane.kubelet_events import MISSING, OLD_KUBELET
from tests.k8s.fixtures import CLAIM
from tests.k8s.project import make_cluster_project
from tests.k8s.test_apply_on_real_apiserver import Space, created, space

__all__ = ["space"]


def _set_rules(space: Space, rules: list[dict[str, object]]) -> None:
    from kubernetes import client

    api = space.cluster.admin()
    try:
        rbac = client.RbacAuthorizationV1Api(api.api_client)
        rbac.patch_namespaced_role("kite", space.namespace, {"rules": rules})
    finally:
        api.api_client.close()


def _installed(space: Space, **project: object) -> Path:
    root = make_cluster_project(space, namespace=space.namespace, **project)  # type: ignore[arg-type]
    assert space.kite(root, "install", "--env", "kube", admin=True).code == 0
    return root


def _clean(result: Result) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr


def test_list_and_watch_forbidden_fail_at_once_with_an_rbac_hint(space: Space) -> None:
    root = _installed(space)
    no_follow = [dict(KITE_RULES[0], verbs=["create", "get", "delete"]), KITE_RULES[1]]
    _set_rules(space, no_follow)
    began = time.monotonic()
    refused = space.kite(root, "apply", "--env", "kube")
    assert refused.code == 4, refused.stderr
    assert time.monotonic() - began < 20
    _clean(refused)
    assert "kite may not list pods, watch pods" in refused.stderr
    assert f"kubectl auth can-i list pods -n {space.namespace}" in refused.stderr
    assert "docs/kubernetes.md" in refused.stderr
    assert space.pod_names() == []  # nothing was submitted
    assert not (root / "calls.log").exists()


def test_a_missing_service_account_is_named_before_anything_runs(space: Space) -> None:
    root = _installed(space)
    size = "kite-kube-e2e-size"
    api = space.cluster.admin()
    try:
        names = [
            a.metadata.name for a in api.list_namespaced_service_account(space.namespace).items
        ]
        size = next(n for n in names if n.endswith("-size"))
        api.delete_namespaced_service_account(size, space.namespace)
    finally:
        api.api_client.close()
    refused = space.kite(root, "apply", "--env", "kube")
    assert refused.code == 4, refused.stderr
    _clean(refused)
    assert f"the service account {size} of the stages to run does not exist" in refused.stderr
    assert "kite install --env kube" in refused.stderr
    assert not (root / "calls.log").exists()  # `clean` did not run first
    assert space.pod_names() == []


def test_the_api_server_down_at_start_exits_4_within_seconds(space: Space, tmp_path: Path) -> None:
    root = _installed(space)
    down = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    config = tmp_path / "down.kubeconfig"
    config.write_text(
        space.cluster.plane.kite.read_text().replace(space.cluster.plane.server, down)
    )
    began = time.monotonic()
    result = space.kite(root, "apply", "--env", "kube", via=config)
    took = time.monotonic() - began
    assert result.code == 4, result.stderr
    assert took < 10, f"exit 4 after {took:.1f} s"
    _clean(result)
    assert f"cannot be reached at {down} (connection refused)" in result.stderr
    assert not (root / "calls.log").exists()


def test_exceeded_quota_is_waited_out_not_an_abort(space: Space, tmp_path: Path) -> None:
    api = space.cluster.admin()
    try:
        quota = {"metadata": {"name": "one-pod"}, "spec": {"hard": {"pods": "1"}}}
        api.create_namespaced_resource_quota(space.namespace, quota)
    finally:
        api.api_client.close()
    proxy = FaultProxy(space.cluster.plane, tmp_path).start()  # it counts the creates
    try:
        root = _installed(space, env={"STEP_SLEEP": "1"})
        result = space.kite(root, "apply", "--env", "kube", "--parallel", "3", via=proxy.kubeconfig)
        assert result.code == 0, result.stderr
        _clean(result)
        assert "cannot take its pod yet" in result.stderr
        assert "exceeded quota: one-pod" in result.stderr
        assert created(proxy) == len(DAYS) * 2 + 1  # each pod once
        assert (root / "data-kube/total/all.txt").read_text() == "9\n"  # none lost
    finally:
        proxy.stop()


def test_a_log_that_cannot_be_read_is_a_note_and_the_pod_is_deleted(
    space: Space, tmp_path: Path
) -> None:
    proxy = FaultProxy(space.cluster.plane, tmp_path).start()
    try:
        root = _installed(space)
        proxy.faults.fail(10_000, code=500, method="GET", where=r"/log")
        result = space.kite(root, "apply", "--env", "kube", via=proxy.kubeconfig)
        assert result.code == 0, result.stderr  # the work itself succeeded
        _clean(result)
        assert (root / "data-kube/total/all.txt").read_text() == "9\n"
        _gone(space)
        logs = space.kite(root, "logs", "last", "--env", "kube")
        assert "[kite] the log of this attempt could not be read" in logs.stdout
    finally:
        proxy.stop()


def test_a_fatal_error_stops_submitting_and_cancels_what_is_queued(
    space: Space, tmp_path: Path
) -> None:
    proxy = FaultProxy(space.cluster.plane, tmp_path).start()
    try:
        root = _installed(space, env={"STEP_SLEEP": "2"})
        apply = start(
            "apply",
            "--env",
            "kube",
            "--parallel",
            "1",
            cwd=root,
            env={"KUBECONFIG": str(proxy.kubeconfig)},
        )
        try:
            _wait(lambda: created(proxy) == 1, "the first pod", 60)
            proxy.faults.fail(10_000, code=403, method="POST", where=r"/pods$")  # forbidden now
            result = apply.result(timeout=120)
        finally:
            apply.stop()
        assert result.code == 4, result.stderr
        _clean(result)
        posts = [p for m, p in proxy.requests if m == "POST" and p.endswith("/pods")]
        assert len(posts) == 2  # the refused one, and nothing after it
        assert created(proxy) == 1
        _gone(space)
    finally:
        proxy.stop()


def test_an_unschedulable_pod_says_why_and_fails_at_its_start_timeout(space: Space) -> None:
    defaults = "  resources: {memory: 100Gi}\n  start_timeout: 3s\n"
    root = _installed(space, defaults=defaults)
    began = time.monotonic()
    result = space.kite(root, "apply", "--env", "kube", "--parallel", "3")
    assert result.code == 1, result.stderr
    assert time.monotonic() - began < 60
    _clean(result)
    assert "not scheduled yet: 0/1 nodes are available: 1 Insufficient memory" in result.stderr
    assert "was not scheduled within the stage's start_timeout (3s)" in result.stderr, result.stderr
    _gone(space)


def _gone(space: Space) -> None:
    _wait(lambda: space.pod_names() == [], f"the pods to go: {space.pod_names()}", 30)


def _wait(check, what: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(MISSING + "kite/missing:1", id="cause-in-back-off"),
        pytest.param(MISSING + "kite/missing" + OLD_KUBELET, id="cause-in-events-only"),
    ],
)
def test_an_image_that_does_not_exist_fails_fast_with_the_cause(space: Space, image: str) -> None:
    """Not retried, at once: before 1.32 the back-off names no cause, so kite reads events."""
    root = _installed(space, defaults="  retries: {limit: 2}\n")
    text = (root / "pipeline.yaml").read_text().replace("python:3.12-slim", image)
    (root / "pipeline.yaml").write_text(text)
    began = time.monotonic()
    result = space.kite(root, "apply", "--env", "kube", "--parallel", "3")
    took = time.monotonic() - began
    assert result.code == 1, result.stderr
    assert took < 30, f"took {took:.0f} s"
    _clean(result)
    assert f"the image '{image}' cannot be pulled" in result.stderr
    assert "not found" in result.stderr
    assert result.stderr.count("failed (image-pull)") == len(DAYS)
    assert "retrying" not in result.stderr  # a missing image is not retried
    _gone(space)


def test_a_pod_stuck_in_container_creating_shows_its_events(
    real_cluster: RealCluster, tmp_path: Path
) -> None:
    namespace = "kite-" + uuid.uuid4().hex[:8]
    unmountable = {"nfs": {"server": "127.0.0.1", "path": "/nowhere"}}
    prepare(real_cluster, namespace, tmp_path / "volume", [], CLAIM, source=unmountable)
    stuck = Space(real_cluster, namespace, tmp_path / "volume")
    root = _installed(stuck, defaults="  start_timeout: 4s\n")
    result = stuck.kite(root, "apply", "--env", "kube", "--parallel", "3")
    assert result.code == 1, result.stderr
    _clean(result)
    assert "did not start its command within the stage's start_timeout (4s)" in result.stderr
    assert "it was ContainerCreating; FailedMount: MountVolume.SetUp failed" in result.stderr, (
        result.stderr
    )
    _gone(stuck)


def test_a_pod_on_a_lost_node_ends_as_lost_and_is_retried(space: Space) -> None:
    root = _installed(space, env={"STEP_SLEEP": "4"}, defaults="  retries: {limit: 1}\n")
    first = DAYS[0]
    for day in DAYS[1:]:  # one datum is enough
        (root / f"data-kube/raw/{day}.csv").unlink()
    apply = start(
        "apply", "--env", "kube", cwd=root, env={"KUBECONFIG": str(space.cluster.plane.kite)}
    )
    try:
        _wait(lambda: len(space.running()) == 1, "the pod to run", 60)
        [pod] = space.running()
        space.cluster.agent.lose(pod)  # its node stops answering
        api = space.cluster.admin()
        try:  # the node lifecycle controller (or a user) deletes it: it stays Terminating
            api.delete_namespaced_pod(pod, space.namespace, grace_period_seconds=1)
        finally:
            api.api_client.close()
        result = apply.result(timeout=120)
    finally:
        apply.stop()
    assert result.code == 0, result.stderr
    _clean(result)
    assert "attempt 1 failed (lost), retrying" in result.stderr
    assert (root / f"data-kube/clean/{first}.csv").exists()
    repo = open_repo(str(root / "meta-kube"))
    ran = run_to_json(next(iter(ledger.runs(repo, "kube"))))["attempts"]
    clean = [(a["attempt"], a["status"], a["reason"]) for a in ran if a["stage"] == "clean"]
    assert clean == [(1, "failed", "lost"), (2, "succeeded", None)]
    api = space.cluster.admin()
    try:  # what a lost node leaves: the administrator removes it
        api.delete_namespaced_pod(pod, space.namespace, grace_period_seconds=0)
    finally:
        api.api_client.close()
