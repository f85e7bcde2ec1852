"""The kubernetes executor against the fake cluster: adoption, faults, reasons, logs, batches."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitecli.errors import StoreError
from kitecli.executors import podspec
from kitecli.executors.base import Outcome, Task
from kitecli.executors.kubernetes import KubernetesExecutor
from kitecli.spec.model import Resources
from tests.executors.rigs import Rig, local_dir, volume_environment
from tests.k8s.fixtures import CLAIM, MISSING_IMAGE, FakeCluster, fake_cluster

SH = "sh"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    with fake_cluster(tmp_path, service_accounts=("kite-prod-contract-step",)) as running:
        yield running


def rig_for(cluster: FakeCluster, **options: object) -> Rig:
    env = volume_environment("prod", str(cluster.volume), claim=CLAIM, namespace=cluster.namespace)
    scratch = local_dir(cluster.volume / "prod" / "scratch")
    return Rig(KubernetesExecutor(cluster.options(**options)), env, "/", str(scratch), scratch)


@pytest.fixture
def rig(cluster: FakeCluster) -> Iterator[Rig]:
    made = rig_for(cluster)
    yield made
    made.executor.close()


def run(rig: Rig, task: Task) -> Outcome:
    return rig.executor.wait(rig.executor.submit(task))


def name_of(task: Task) -> str:
    return podspec.pod_name([task])


def wait_until(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- logs, digests, pods ---------------------------------------------------------------------
def test_logs_are_read_before_the_pod_is_deleted(rig: Rig, cluster: FakeCluster) -> None:
    outcome = run(rig, rig.task([SH, "-c", "echo kept"]))
    assert outcome.log == b"kept\n"
    assert cluster.server.pods() == []
    assert outcome.image_digest is not None
    assert outcome.image_digest.startswith("busybox@sha256:")
    assert outcome.node == "fake-node-1"


def test_keep_pods(cluster: FakeCluster) -> None:
    keeping = rig_for(cluster, keep_pods=True)
    task = keeping.task([SH, "-c", "echo kept"])
    assert run(keeping, task).ok
    assert [p["metadata"]["name"] for p in cluster.server.pods()] == [name_of(task)]
    keeping.executor.close()


def test_the_created_pod_is_the_generated_one(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "sleep 0.3"])
    handle = rig.executor.submit(task)
    (pod,) = cluster.server.pods()
    assert pod["spec"]["serviceAccountName"] == "kite-prod-contract-step"
    assert pod["metadata"]["labels"]["kite.dev/run"] == rig.run_id
    assert rig.executor.wait(handle).ok


# -- adoption --------------------------------------------------------------------------------
def test_a_second_executor_adopts_the_running_pod(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "sleep 0.5; echo once"])
    rig.executor.submit(task)  # then kite "crashes": nobody waits for this handle
    wait_until(lambda: name_of(task) in cluster.kubelet.started)
    again = rig_for(cluster)
    outcome = run(again, task)
    again.executor.close()
    assert outcome.ok
    assert outcome.log == b"once\n"
    assert cluster.server.created == {name_of(task): 1}


def test_a_pod_that_finished_while_kite_was_away_is_adopted(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "echo done-alone"])
    rig.executor.submit(task)
    wait_until(lambda: cluster.server.pods()[0]["status"]["phase"] == "Succeeded")
    again = rig_for(cluster)
    outcome = run(again, task)
    again.executor.close()
    assert outcome.ok
    assert outcome.log == b"done-alone\n"
    assert cluster.server.created == {name_of(task): 1}


def test_killed_kite_is_resumed_without_duplicates(rig: Rig, cluster: FakeCluster) -> None:
    """kill -9 a process that submitted pods; a new one adopts them all."""
    tasks = [
        rig.task([SH, "-c", f"sleep 0.5; echo {i}"], key={"i": str(i)}, fingerprint=f"b3:{i:064x}")
        for i in range(3)
    ]
    child = _spawn(cluster, tasks)
    try:
        wait_until(lambda: len(cluster.server.created) == 3, timeout=90)  # a cold interpreter
    finally:
        child.kill()
        child.wait()
    outcomes = [run(rig, task) for task in tasks]
    assert [o.log for o in outcomes] == [b"0\n", b"1\n", b"2\n"]
    assert sorted(cluster.server.created.values()) == [1, 1, 1]


CHILD = """
import pickle, sys, time
from kitecli.executors.kubernetes import KubernetesExecutor
options, tasks = pickle.loads(sys.stdin.buffer.read())
executor = KubernetesExecutor(options)
for task in tasks:
    executor.submit(task)
time.sleep(60)
"""


def _spawn(cluster: FakeCluster, tasks: list[Task]) -> subprocess.Popen[bytes]:
    """A kite-like process that submits `tasks` and then hangs until killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    assert child.stdin is not None
    child.stdin.write(pickle.dumps((cluster.options(), tasks)))
    child.stdin.close()
    return child


# -- faults ----------------------------------------------------------------------------------
def test_a_dropped_watch_is_resumed(rig: Rig, cluster: FakeCluster) -> None:
    handle = rig.executor.submit(rig.task([SH, "-c", "sleep 0.6; echo survived"]))
    time.sleep(0.2)
    cluster.server.drop_watches()
    outcome = rig.executor.wait(handle)
    assert outcome.log == b"survived\n"
    watcher = rig.executor.watchers[cluster.namespace]  # type: ignore[attr-defined]
    assert watcher.resumes >= 1


def test_410_gone_lists_again(rig: Rig, cluster: FakeCluster) -> None:
    handle = rig.executor.submit(rig.task([SH, "-c", "sleep 0.6; echo survived"]))
    time.sleep(0.2)
    cluster.server.compact()  # history gone: resuming from the old version answers 410
    cluster.server.drop_watches()
    outcome = rig.executor.wait(handle)
    assert outcome.log == b"survived\n"
    watcher = rig.executor.watchers[cluster.namespace]  # type: ignore[attr-defined]
    assert watcher.relists >= 1


def test_a_pod_that_ends_while_no_watch_is_open_is_seen(rig: Rig, cluster: FakeCluster) -> None:
    cluster.server.faults.gone(50)  # every watch answers 410 for a while: only lists work
    outcome = run(rig, rig.task([SH, "-c", "echo listed"]))
    assert outcome.log == b"listed\n"


def test_429_bursts_are_retried(rig: Rig, cluster: FakeCluster) -> None:
    cluster.server.faults.throttle(4, method="POST")
    assert run(rig, rig.task([SH, "-c", "echo ok"])).ok
    posts = [r for r in cluster.server.requests if r[0] == "POST"]
    assert len(posts) == 5


def test_500s_are_retried(rig: Rig, cluster: FakeCluster) -> None:
    cluster.server.faults.fail(3)
    assert run(rig, rig.task([SH, "-c", "echo ok"])).log == b"ok\n"


def test_creates_that_keep_failing_fail_the_datum_at_its_start_timeout(
    cluster: FakeCluster,
) -> None:
    """5xx on create is retried with backoff until the pod's start_timeout, then the datum
    fails with the server's answer: not an abort of the whole apply."""
    said: list[str] = []
    failing = rig_for(cluster, retries=2, start_timeout=1.0)
    failing.executor.say = said.append  # type: ignore[attr-defined]
    cluster.server.faults.fail(1000, code=503, method="POST")
    try:
        outcome = run(failing, failing.task([SH, "-c", "true"]))
    finally:
        failing.executor.close()
    assert outcome.reason == "start-timeout"
    assert "503" in outcome.detail
    assert not outcome.retryable
    assert any("cannot take its pod yet" in line for line in said), said


def test_oom_killed(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "echo filling; sleep 5"], resources=Resources(memory="64Mi"))
    cluster.kubelet.doom(name_of(task), "OOMKilled")
    outcome = run(rig, task)
    assert outcome.exit_code is None
    assert outcome.reason == "OOMKilled"
    assert not outcome.retryable
    assert "64Mi" in outcome.detail
    assert outcome.log.startswith(b"filling\n")
    assert b"[kite] out of memory" in outcome.log


def test_evicted(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "sleep 5"])
    cluster.kubelet.doom(name_of(task), "Evicted")
    outcome = run(rig, task)
    assert outcome.reason == "Evicted"
    assert outcome.retryable
    assert "low on resource" in outcome.detail


def test_an_image_that_does_not_exist(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "true"], image=MISSING_IMAGE)
    outcome = run(rig, task)
    assert outcome.reason == "image-pull"
    assert not outcome.retryable
    assert MISSING_IMAGE in outcome.detail
    wait_until(lambda: cluster.server.pods() == [])  # kite gave up and removed it


def test_an_invalid_pod_is_rejected_not_retried(rig: Rig) -> None:
    outcome = run(rig, rig.task([SH, "-c", "true"], resources=Resources(memory="lots")))
    assert outcome.reason == "rejected"
    assert not outcome.retryable
    assert "memory" in outcome.detail


def test_a_missing_service_account_says_to_install(rig: Rig) -> None:
    with pytest.raises(StoreError, match="serviceaccount") as caught:
        rig.executor.submit(rig.task([SH, "-c", "true"], name="unknown"))
    assert "kite install" in (caught.value.hint or "")


def test_a_pod_deleted_by_someone_else_is_lost(rig: Rig, cluster: FakeCluster) -> None:
    task = rig.task([SH, "-c", "sleep 5"])
    handle = rig.executor.submit(task)
    wait_until(lambda: name_of(task) in cluster.kubelet.started)
    cluster.server.delete(cluster.namespace, "pods", name_of(task))
    outcome = rig.executor.wait(handle)
    assert outcome.reason == "lost"
    assert outcome.retryable


def test_kite_side_timeout_for_a_pod_that_never_starts(cluster: FakeCluster) -> None:
    waiting = rig_for(cluster, grace=0.5, start_timeout=0.5)
    cluster.kubelet.volumes.pop(CLAIM)  # the volume never mounts: the pod stays pending
    outcome = run(waiting, waiting.task([SH, "-c", "true"], timeout=60))
    assert outcome.reason == "start-timeout"  # not the stage's timeout: nothing started
    assert "did not start its command within the stage's start_timeout" in outcome.detail
    wait_until(lambda: cluster.server.pods() == [])
    waiting.executor.close()


# -- batches ---------------------------------------------------------------------------------
def test_a_batch_runs_in_order_and_stops_at_the_first_failure(
    rig: Rig, cluster: FakeCluster
) -> None:
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
    assert outcomes[3].retryable
    assert [o.log.splitlines()[0] for o in outcomes[:3]] == [b"datum 0", b"datum 1", b"datum 2"]
    assert Path(log).read_text().split() == ["0", "1", "2"]
    assert len(cluster.server.created) == 1
    assert cluster.server.pods() == []


def test_a_refused_list_ends_the_wait_with_an_rbac_hint(cluster: FakeCluster) -> None:
    """Rights taken away while kite runs: the watch's 403 is raised by the waits at once,
    not retried for ever (the preflight catches it before an apply starts)."""
    refused = rig_for(cluster)
    cluster.server.faults.fail(10_000, code=403, method="GET", where=r"/pods\?")
    began = time.monotonic()
    try:
        handle = refused.executor.submit(refused.task([SH, "-c", "sleep 30"]))
        with pytest.raises(StoreError) as caught:
            refused.executor.wait(handle)
    finally:
        cluster.server.faults.fail(0)
        refused.executor.close()
    assert time.monotonic() - began < 10
    assert caught.value.exit_code == 4
    assert "kubectl auth can-i list pods" in (caught.value.hint or "")
    wait_until(lambda: cluster.server.pods() == [])  # the pod it started is deleted
