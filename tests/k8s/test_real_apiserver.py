"""The kubernetes executor against a real kube-apiserver (tests/k8s/controlplane): what the
fake server imitates, answered by the real one — validation, admission, RBAC, deletion."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kitecli.errors import StoreError
from kitecli.executors import podspec
from kitecli.executors.base import Outcome, Task
from kitecli.executors.kubernetes import ClusterApi, KubernetesExecutor
from kitecli.executors.pods import KubernetesOptions
from kitecli.spec.model import Resources
from tests.executors.rigs import Rig, local_dir, volume_environment
from tests.k8s.controlplane.fixtures import RealCluster, prepare
from tests.k8s.fixtures import CLAIM

SH = "sh"
ACCOUNT = "kite-prod-contract-step"


@dataclass
class Space:
    """A namespace of the real cluster prepared for kite, and the administrator's API."""

    cluster: RealCluster
    namespace: str
    volume: Path
    admin: Any

    def rig(self, claim: str = CLAIM, **options: Any) -> Rig:
        env = volume_environment("prod", str(self.volume), claim=claim, namespace=self.namespace)
        values = {"kubeconfig": str(self.cluster.plane.kite), "backoff": 0.05, "backoff_cap": 0.5}
        executor = KubernetesExecutor(KubernetesOptions(**{**values, **options}))
        scratch = local_dir(self.volume / "prod" / "scratch")
        return Rig(executor, env, "/", str(scratch), scratch)

    def pods(self) -> list[Any]:
        return list(self.admin.list_namespaced_pod(self.namespace).items)


@pytest.fixture
def space(real_cluster: RealCluster, tmp_path: Path) -> Iterator[Space]:
    namespace = "kite-" + uuid.uuid4().hex[:8]
    prepare(real_cluster, namespace, tmp_path / "volume", [ACCOUNT], CLAIM)
    admin = real_cluster.admin()
    try:
        yield Space(real_cluster, namespace, tmp_path / "volume", admin)
    finally:
        admin.api_client.close()


@pytest.fixture
def rig(space: Space) -> Iterator[Rig]:
    made = space.rig()
    yield made
    made.executor.close()


def run(rig: Rig, task: Task) -> Outcome:
    return rig.executor.wait(rig.executor.submit(task))


def wait_until(check, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_logs_come_through_the_api_server_and_the_pod_is_removed(rig: Rig, space: Space) -> None:
    outcome = run(rig, rig.task([SH, "-c", "echo kept; echo err >&2"]))
    assert outcome.ok, outcome.detail
    assert outcome.log == b"kept\nerr\n"
    assert outcome.node == space.cluster.agent.name
    assert outcome.image_digest is not None
    assert outcome.image_digest.startswith("busybox@sha256:")
    wait_until(lambda: space.pods() == [], "the pod to be removed")


def test_an_invalid_pod_is_rejected_by_the_server(rig: Rig) -> None:
    """The server does not name the field (so `kite validate` checks quantities first)."""
    outcome = run(rig, rig.task([SH, "-c", "true"], resources=Resources(memory="lots")))
    assert outcome.reason == "rejected"
    assert not outcome.retryable
    assert "quantities must match" in outcome.detail


def test_a_missing_service_account_says_to_install(rig: Rig) -> None:
    with pytest.raises(StoreError, match="service account") as caught:
        rig.executor.submit(rig.task([SH, "-c", "true"], name="unknown"))
    assert "kite install" in (caught.value.hint or "")


def test_a_second_executor_adopts_the_running_pod(rig: Rig, space: Space) -> None:
    counter = f"{rig.scratch}/{rig.run_id}-runs"
    task = rig.task([SH, "-c", f'echo x >> "{counter}"; sleep 1; echo once'])
    rig.executor.submit(task)  # then kite "crashes": nobody waits for this handle
    name = podspec.pod_name([task])
    wait_until(lambda: Path(counter).exists(), "the pod's command to start")
    again = space.rig()
    outcome = run(again, task)
    again.executor.close()
    assert outcome.ok, outcome.detail
    assert outcome.log == b"once\n"
    assert Path(counter).read_text() == "x\n"  # it ran once
    assert name not in [p.metadata.name for p in space.pods() if not p.metadata.deletion_timestamp]


def test_a_pod_deleted_by_someone_else_is_lost(rig: Rig, space: Space) -> None:
    task = rig.task([SH, "-c", "echo started; sleep 30"])
    handle = rig.executor.submit(task)
    name = podspec.pod_name([task])
    wait_until(lambda: _running(space, name), "the pod to run")
    space.admin.delete_namespaced_pod(name, space.namespace)
    outcome = rig.executor.wait(handle)
    assert outcome.reason == "lost", (outcome.reason, outcome.exit_code, outcome.detail)
    assert outcome.retryable


def test_a_pod_that_is_never_scheduled_fails_at_its_start_timeout(space: Space) -> None:
    said: list[str] = []
    waiting = space.rig(claim="kite-no-such-claim", grace=0.5, start_timeout=2.0)
    waiting.executor.say = said.append  # type: ignore[attr-defined]
    try:
        outcome = run(waiting, waiting.task([SH, "-c", "true"], timeout=0.5))
    finally:
        waiting.executor.close()
    assert outcome.reason == "start-timeout"  # not the stage's timeout: nothing started
    assert "was not scheduled within the stage's start_timeout (2s)" in outcome.detail
    assert 'persistentvolumeclaim "kite-no-such-claim" not found' in outcome.detail
    assert any("not scheduled yet" in line for line in said), said
    wait_until(lambda: space.pods() == [], "the pending pod to be removed")


def test_a_batch_runs_in_order_and_stops_at_the_first_failure(rig: Rig, space: Space) -> None:
    log = f"{rig.scratch}/order.log"
    tasks = [
        rig.task(
            [SH, "-c", f'echo {i} >> "{log}"; echo datum {i}; exit {code}'],
            key={"i": str(i)},
            batch=4,
        )
        for i, code in enumerate((0, 0, 3, 0))
    ]
    handles = rig.executor.submit_batch(tasks)  # type: ignore[attr-defined]
    outcomes = [rig.executor.wait(h) for h in handles]
    assert [o.exit_code for o in outcomes] == [0, 0, 3, None]
    assert [o.reason for o in outcomes] == [None, None, None, "not-run"]
    assert [o.log.splitlines()[0] for o in outcomes[:3]] == [b"datum 0", b"datum 1", b"datum 2"]
    assert Path(log).read_text().split() == ["0", "1", "2"]
    wait_until(lambda: space.pods() == [], "the batch's pod to be removed")


def test_the_kite_user_has_only_the_documented_rights(space: Space) -> None:
    api = ClusterApi.connect(KubernetesOptions(kubeconfig=str(space.cluster.plane.kite), retries=0))
    try:
        assert api.read("pod", space.namespace, "kite-no-such-pod") is None  # may read pods
        with pytest.raises(StoreError, match="forbidden"):
            api.read("serviceaccount", space.namespace, ACCOUNT)
    finally:
        api.close()


def _running(space: Space, name: str) -> bool:
    pods = [p for p in space.pods() if p.metadata.name == name]
    return bool(pods) and pods[0].status.phase == "Running"


def test_cancel_lets_the_command_clean_up(rig: Rig, space: Space) -> None:
    """kite deletes a cancelled pod with a grace period: the command gets SIGTERM first."""
    note = f"{rig.scratch}/{rig.run_id}-term"
    script = (
        f"trap 'echo TERM > \"{note}\"; exit 0' TERM; echo started; while :; do sleep 0.1; done"
    )
    task = rig.task([SH, "-c", script])
    handle = rig.executor.submit(task)
    wait_until(lambda: _running(space, podspec.pod_name([task])), "the pod to run")
    time.sleep(0.5)  # the trap is set once the shell runs
    rig.executor.cancel(handle)
    outcome = rig.executor.wait(handle)
    assert outcome.reason == "cancelled"
    wait_until(lambda: Path(note).exists(), "the TERM trap to write its note", timeout=10)
    assert Path(note).read_text() == "TERM\n"
    wait_until(lambda: space.pods() == [], "the node agent to remove the cancelled pod")


def test_the_server_is_the_release_the_docs_name(space: Space) -> None:
    from kubernetes import client

    version = client.VersionApi(space.admin.api_client).get_code()
    assert version.git_version == "v1.37.2"
    assert (version.major, version.minor) == ("1", "37")


def test_the_timeout_counts_from_the_start_of_the_command(space: Space) -> None:
    """A pod that waits (here for quota) longer than its timeout, then runs within it,
    succeeds: the wait before its command started is not its time."""
    quota = {"metadata": {"name": "one-pod"}, "spec": {"hard": {"pods": "1"}}}
    space.admin.create_namespaced_resource_quota(space.namespace, quota)
    waiting = space.rig(grace=0.5)
    try:
        first = waiting.executor.submit(waiting.task([SH, "-c", "sleep 3; echo first"]))
        wait_until(lambda: bool(space.pods()), "the first pod")
        began = time.monotonic()
        second = waiting.task([SH, "-c", "sleep 0.5; echo second"], timeout=1.5)
        outcome = waiting.executor.wait(waiting.executor.submit(second))
        waited = time.monotonic() - began
        assert waiting.executor.wait(first).ok
    finally:
        waiting.executor.close()
    assert waited > 1.5 + 0.5  # longer than timeout and grace since it was submitted
    assert outcome.ok, (outcome.reason, outcome.detail)
    assert outcome.log == b"second\n"
