"""`kite apply` with `executor: kubernetes`, end to end through the command line.

The fake cluster runs in this process; `kite` runs as a subprocess that reaches it through
KUBECONFIG. The project (and so the data roots) lives on the cluster's volume, which the
fake kubelet sees at the same path, as kite in a pod with the claim would.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kitecli.executors import podspec
from kitecli.history import ledger
from kitecli.history.records import run_to_json
from kitecli.store import open_repo
from tests.e2e import DAYS, calls
from tests.helpers import Result, Running, kite, start, write
from tests.k8s.fixtures import FakeCluster, fake_cluster
from tests.k8s.project import make_cluster_project, tree
from tests.k8s.restricted import violations


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    with fake_cluster(tmp_path) as running:
        yield running


def run(cluster: FakeCluster, root: Path, *args: str, **env: str) -> Result:
    return kite(*args, cwd=root, env={"KUBECONFIG": str(cluster.kubeconfig), **env})


def installed(cluster: FakeCluster, root: Path) -> None:
    """`kite install --env kube`."""
    done = run(cluster, root, "install", "--env", "kube")
    assert done.code == 0, done.stderr


def attempts(cluster: FakeCluster, root: Path, env: str) -> list[dict[str, Any]]:
    """The attempts of the environment's last run, as `kite show last --json` has them."""
    repo = open_repo(str(root / f"meta-{env}"))
    last = next(iter(ledger.runs(repo, env)))
    found: list[dict[str, Any]] = run_to_json(last)["attempts"]
    return found


SAME = ("stage", "key", "fingerprint", "attempt", "status", "exit_code", "reason", "params")


def same(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an attempt record says whatever ran it, in a stable order."""
    kept = [{k: a[k] for k in SAME} for a in found]
    return sorted(kept, key=lambda a: json.dumps(a, sort_keys=True))


def sections(logs: str) -> list[str]:
    """`kite logs` output as its attempts' sections, in a stable order."""
    return sorted(logs.split("==> "))


def test_apply_on_kubernetes_is_identical_to_a_local_apply(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    root = make_cluster_project(cluster)
    installed(cluster, root)
    local = run(cluster, root, "apply", "--env", "dev")
    assert local.code == 0, local.stderr
    local_calls = sorted(calls(root / "calls.log"))
    pods = run(cluster, root, "apply", "--env", "kube")
    assert pods.code == 0, pods.stderr
    assert sorted(calls(root / "calls.log")) == local_calls  # the same work, once each
    assert len(cluster.server.created) == len(DAYS) * 2 + 1  # clean, size: 3 each; total: 1
    assert tree(root / "data-kube") == tree(root / "data-dev")
    lock = yaml.safe_load((root / "kite.lock").read_text())["environments"]
    for section in lock.values():
        section.pop("commit")
    assert lock["kube"] == lock["dev"]
    ran = attempts(cluster, root, "kube")
    assert same(ran) == same(attempts(cluster, root, "dev"))
    for attempt in ran:
        assert attempt["executor"] == "kubernetes"
        assert attempt["where"].startswith(attempt["stage"] + "-")  # the pod's name
        assert attempt["node"] == "fake-node-1"
        assert "@sha256:" in attempt["image_digest"]
        assert attempt["identity"] == f"kite-kube-e2e-{attempt['stage']}"
    # every pod was deleted, and its log is kept in the metadata repo
    assert cluster.server.pods() == []
    logs = run(cluster, root, "logs", "last", "--env", "kube")
    assert logs.code == 0, logs.stderr
    assert sections(logs.stdout) == sections(
        run(cluster, root, "logs", "last", "--env", "dev").stdout
    )
    assert "clean processing 2024-01-02.csv" in logs.stdout
    assert not (cluster.volume / ".kite" / "tmp" / "kube").exists()  # working folders cleared
    again = run(cluster, root, "apply", "--env", "kube")
    assert again.code == 0, again.stderr
    assert "No changes" in again.stderr + again.stdout


def test_datums_flow_across_stages_in_pods(cluster: FakeCluster) -> None:
    """A pod of `size` starts before `clean`'s slowest pod ends (run/flow.py); the results
    and the record are those of the local run, stage by stage."""
    root = make_cluster_project(cluster, env={"STEP_SLEEP": "3"})
    step = (root / "step.py").read_text()
    slow = 'if stage == "clean" and "2024-01-01.csv" in {p.name for p in files}:'
    write(root, {"step.py": step.replace('if os.environ.get("STEP_SLEEP"):', slow)})
    installed(cluster, root)
    local = run(cluster, root, "apply", "--env", "dev", "--parallel", "1")
    assert local.code == 0, local.stderr
    pods = run(cluster, root, "apply", "--env", "kube", "--parallel", "4")
    assert pods.code == 0, pods.stderr
    ran = attempts(cluster, root, "kube")
    clean = [a for a in ran if a["stage"] == "clean"]
    size = [a for a in ran if a["stage"] == "size"]
    assert min(a["started"] for a in size) < max(a["ended"] for a in clean) - 1.0
    assert tree(root / "data-kube") == tree(root / "data-dev")
    assert same(ran) == same(attempts(cluster, root, "dev"))
    assert [a["stage"] for a in ran] == [a["stage"] for a in attempts(cluster, root, "dev")]


def started(cluster: FakeCluster, root: Path, **env: str) -> Running:
    """`kite apply --env kube --parallel 3` started in the background."""
    environ = {"KUBECONFIG": str(cluster.kubeconfig), **env}
    return start("apply", "--env", "kube", "--parallel", "3", cwd=root, env=environ)


def doomed(stage: str, day: str) -> Any:
    def match(pod: dict[str, Any]) -> bool:
        labels = pod["metadata"]["labels"]
        return bool(labels["kite.dev/stage"] == stage and labels["kite.dev/datum"] == day)

    return match


def test_the_retry_policy_follows_what_the_cluster_says(cluster: FakeCluster) -> None:
    """OOMKilled is not retried (more memory is needed), Evicted is."""
    root = make_cluster_project(
        cluster, env={"STEP_SLEEP": "1"}, defaults="  retries: {limit: 2}\n"
    )
    installed(cluster, root)
    cluster.kubelet.doom(doomed("clean", "2024-01-01"), "OOMKilled")
    cluster.kubelet.doom(doomed("clean", "2024-01-02"), "Evicted")
    result = run(cluster, root, "apply", "--env", "kube")
    assert result.code == 1, result.stderr
    clean = {}
    for attempt in attempts(cluster, root, "kube"):
        if attempt["stage"] == "clean":
            clean.setdefault(attempt["key"]["day"], []).append(
                (attempt["attempt"], attempt["status"], attempt["reason"])
            )
    assert clean == {
        "2024-01-01": [(1, "failed", "OOMKilled")],
        "2024-01-02": [(1, "failed", "Evicted"), (2, "succeeded", None)],
        "2024-01-03": [(1, "succeeded", None)],
    }
    logs = run(cluster, root, "logs", "last", "clean", "--env", "kube", "--datum", "day=2024-01-01")
    assert "[kite] out of memory" in logs.stdout
    assert (root / "data-kube/clean/2024-01-02.csv").exists()
    assert not (root / "data-kube/clean/2024-01-01.csv").exists()


def test_batches_run_several_datums_per_pod(cluster: FakeCluster) -> None:
    """`batch: 2`: fewer pods, the same outputs, and a history that still speaks per datum."""
    root = make_cluster_project(cluster, batch=2)
    installed(cluster, root)
    assert run(cluster, root, "apply", "--env", "dev").code == 0
    result = run(cluster, root, "apply", "--env", "kube")
    assert result.code == 0, result.stderr
    per_stage = sorted(name.split("-")[0] for name in cluster.server.created)
    assert per_stage == ["clean", "clean", "size", "size", "total"]
    assert tree(root / "data-kube") == tree(root / "data-dev")
    assert same(attempts(cluster, root, "kube")) == same(attempts(cluster, root, "dev"))
    logs = run(cluster, root, "logs", "last", "--env", "kube").stdout
    assert sections(logs) == sections(run(cluster, root, "logs", "last", "--env", "dev").stdout)


def test_a_failing_datum_stops_its_batch_and_the_rest_run_again(cluster: FakeCluster) -> None:
    root = make_cluster_project(cluster, batch=3, env={"STEP_FAIL": "2024-01-01.csv"})
    installed(cluster, root)
    result = run(cluster, root, "apply", "--env", "kube")
    assert result.code == 1, result.stderr
    clean = sorted(
        (a["key"]["day"], a["attempt"], a["status"], a["exit_code"])
        for a in attempts(cluster, root, "kube")
        if a["stage"] == "clean"
    )
    assert clean == [
        ("2024-01-01", 1, "failed", 7),
        ("2024-01-02", 1, "succeeded", 0),
        ("2024-01-03", 1, "succeeded", 0),
    ]
    assert sum(n.startswith("clean-") for n in cluster.server.created) == 2  # 3 datums, then 2
    ran = [line for line in calls(root / "calls.log") if line.startswith("clean ")]
    assert sorted(ran) == [f"clean {day}.csv" for day in DAYS]  # each datum ran once
    assert sorted(p.name for p in (root / "data-kube/clean").iterdir()) == [
        "2024-01-02.csv",
        "2024-01-03.csv",
    ]
    logs = run(cluster, root, "logs", "last", "clean", "--env", "kube", "--datum", "day=2024-01-03")
    assert "clean processing 2024-01-03.csv" in logs.stdout


def test_keep_pods_and_the_pod_kite_debug_prints(cluster: FakeCluster) -> None:
    """`--keep-pods` keeps them; `kite debug --format pod` prints the pod apply submitted."""
    root = make_cluster_project(cluster)
    installed(cluster, root)
    result = run(cluster, root, "apply", "--env", "kube", "--keep-pods")
    assert result.code == 0, result.stderr
    kept = {p["metadata"]["name"]: p for p in cluster.server.pods()}
    assert len(kept) == len(cluster.server.created) == 7
    shown_run = run(cluster, root, "show", "last", "--env", "kube", "--json")
    run_id = json.loads(shown_run.stdout)["id"]
    shown = run(
        cluster,
        root,
        "debug",
        "clean",
        "--datum",
        "day=2024-01-02",
        "--env",
        "kube",
        "--format",
        "pod",
    )
    assert shown.code == 0, shown.stderr
    printed = yaml.safe_load(shown.stdout)
    kubernetes_validate.validate(printed, podspec.OLDEST_KUBERNETES, strict=True)
    assert violations(printed) == []
    submitted = kept[printed["metadata"]["name"]]  # the same name: the same work
    as_debug = json.loads(
        json.dumps(submitted).replace(run_id, "debug").replace(".kite/tmp/", ".kite/debug/")
    )
    for key in ("labels", "annotations"):
        assert as_debug["metadata"][key] == printed["metadata"][key]
    as_debug["spec"].pop("nodeName")  # set by the kubelet
    assert as_debug["spec"] == printed["spec"]
    text = run(cluster, root, "debug", "clean", "--datum", "day=2024-01-02", "--env", "kube")
    assert f"pod          {printed['metadata']['name']} in namespace kite-test" in text.stdout
    container = printed["spec"]["containers"][0]
    variables = {e["name"]: e["value"] for e in container["env"]}
    assert variables["KITE_INPUT_RAW"] == "/kite/datum/in/raw"  # the same in every run
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/kite/datum")
    view = cluster.volume / mount["subPath"] / "in" / "raw"
    assert view.is_relative_to(cluster.volume / ".kite" / "debug" / "kube")  # on the volume
    assert [p.name for p in view.iterdir()] == ["2024-01-02.csv"]


def test_kite_debug_prints_the_pod_where_the_volume_is_not_mounted(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """A pod needs no volume to be printed: on a machine without it (a laptop with the
    project and its metadata), the pod is the one of the datum as last committed."""
    root = make_cluster_project(cluster)
    text = (root / "pipeline.yaml").read_text()  # the data root where the volume is mounted
    (root / "pipeline.yaml").write_text(text.replace("./data-kube", f"{root}/data-kube"))
    installed(cluster, root)
    assert run(cluster, root, "apply", "--env", "kube").code == 0
    pod = ("debug", "clean", "--datum", "day=2024-01-02", "--env", "kube", "--format", "pod")
    here = run(cluster, root, *pod)
    assert here.code == 0, here.stderr
    laptop = tmp_path / "laptop"
    shutil.copytree(root, laptop, ignore=shutil.ignore_patterns("data-*", ".kite", "cache"))
    away = cluster.volume.with_name("volume-away")
    cluster.volume.rename(away)  # the volume is not mounted here
    try:
        there = run(cluster, laptop, *pod)
    finally:
        away.rename(cluster.volume)
    assert there.code == 0, there.stderr
    assert "note: the volume is not mounted here" in there.stderr
    printed, expected = yaml.safe_load(there.stdout), yaml.safe_load(here.stdout)
    assert printed["metadata"] == expected["metadata"]  # the same name: the same work
    for part in ("serviceAccountName", "volumes", "securityContext"):
        assert printed["spec"][part] == expected["spec"][part]
    assert not (laptop / ".kite" / "debug").exists()  # no views were made


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_9_during_an_apply_then_apply_again(cluster: FakeCluster) -> None:
    """The second apply adopts the pods the killed one left: none twice, none lost."""
    root = make_cluster_project(cluster, env={"STEP_SLEEP": "3"})
    installed(cluster, root)
    first = started(cluster, root, KITE_LEASE_TTL="2")  # its lease expires soon
    try:  # a cold interpreter under load may take a while to create the pods
        wait_until(lambda: len(cluster.kubelet.started) == len(DAYS), timeout=90)
    finally:
        first.signal(signal.SIGKILL)
        first.stop()
    running = {p["metadata"]["name"] for p in cluster.server.pods()}
    assert len(running) == len(DAYS)  # the killed apply's pods live on
    time.sleep(2.5)
    again = run(cluster, root, "apply", "--env", "kube", KITE_LEASE_TTL="2")
    assert again.code == 0, again.stderr
    assert set(cluster.server.created.values()) == {1}  # no pod was created twice
    assert running <= set(cluster.server.created)  # ... the running ones were adopted
    assert len(cluster.server.created) == len(DAYS) * 2 + 1
    ran = calls(root / "calls.log")
    assert sorted(line for line in ran if line.startswith("clean ")) == [
        f"clean {day}.csv" for day in DAYS
    ]  # each datum ran once, in the pod the killed apply started
    assert (root / "data-kube/total/all.txt").read_text() == "9\n"  # none lost
    ok = {a["key"].get("day"): a["status"] for a in attempts(cluster, root, "kube")}
    assert set(ok.values()) == {"succeeded"}
    assert cluster.server.pods() == []
    fsck = run(cluster, root, "fsck", "--env", "kube")
    assert fsck.code == 0, fsck.stdout + fsck.stderr


def test_ctrl_c_deletes_the_pods_and_records_them_cancelled(cluster: FakeCluster) -> None:
    root = make_cluster_project(cluster, env={"STEP_SLEEP": "60"})
    installed(cluster, root)
    apply = started(cluster, root)
    try:
        wait_until(lambda: len(cluster.kubelet.started) == len(DAYS), timeout=90)
        apply.signal(signal.SIGINT)
        stopped = apply.result(timeout=60)
    finally:
        apply.stop()
    assert stopped.code == 130, stopped.stderr
    # kite deleted every pod before it exited; the kubelet removes each once its process
    # has ended, which may be just after kite's exit (this wait is not kite's)
    left = cluster.server.pods()
    assert all(p["metadata"].get("deletionTimestamp") for p in left), left
    wait_until(lambda: cluster.server.pods() == [], timeout=10)
    ran = attempts(cluster, root, "kube")
    assert sorted((a["stage"], a["status"]) for a in ran) == [("clean", "cancelled")] * len(DAYS)
    assert not (cluster.volume / ".kite" / "tmp" / "kube").exists()


def test_an_apply_survives_what_the_api_server_does_to_it(cluster: FakeCluster) -> None:
    """429 bursts on create, 500s on reads, cut watches and 410 Gone: the same result."""
    root = make_cluster_project(cluster, env={"STEP_SLEEP": "1"})
    installed(cluster, root)
    assert run(cluster, root, "apply", "--env", "dev").code == 0
    # the first pods' creates are throttled (not the dry runs of the preflight)
    cluster.server.faults.throttle(5, method="POST", where=r"/pods$")
    apply = started(cluster, root)
    try:
        wait_until(lambda: len(cluster.kubelet.started) >= 1, timeout=90)
        cluster.server.faults.fail(3, code=500, method="GET")
        cluster.server.compact()  # resuming from the old version now answers 410
        cluster.server.drop_watches()
        done = apply.result()
    finally:
        apply.stop()
    assert done.code == 0, done.stderr
    creates = [r for r in cluster.server.requests if r[0] == "POST" and r[1].endswith("/pods")]
    assert len(creates) == len(cluster.server.created) + 5  # the throttled creates were retried
    assert set(cluster.server.created.values()) == {1}  # ... and made no pod twice
    assert len(cluster.server.created) == len(DAYS) * 2 + 1
    assert cluster.server.faults.failing == 0  # the 500s were answered, and got over
    watches = [r for r in cluster.server.requests if r[0] == "GET" and "watch=" in r[1]]
    assert len(watches) >= 2  # the cut watch was opened again
    assert tree(root / "data-kube") == tree(root / "data-dev")
    assert same(attempts(cluster, root, "kube")) == same(attempts(cluster, root, "dev"))
    assert cluster.server.pods() == []
