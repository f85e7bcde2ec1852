"""`kite logs -f` of a run whose datums run in pods, against the real API server: a slow
datum's lines arrive while its pod runs, read through the API server (`follow=true`) with
what the apply recorded of the pod and its cluster, then the follower ends with the run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Running, start, write
from tests.k8s.controlplane.faultproxy import FaultProxy
from tests.k8s.fixtures import CLAIM
from tests.k8s.test_apply_on_real_apiserver import Space, space

__all__ = ["space"]

PIPELINE = """\
kite: 1
name: slowpods
environments:
  kube:
    executor: kubernetes
    namespace: {namespace}
    volume: {{claim: {claim}, mount: "{mount}"}}
    data: ./data
    metadata: ./meta
    cache: ./cache
defaults:
  image: python:3.12-slim
stages:
  tick:
    inputs:
      raw: {{path: raw/, each: "{{name}}.txt"}}
    command: [sh, ticks.sh, "{{{{ datum.name }}}}", "{{{{ outputs.out }}}}"]
    outputs: {{out: out/}}
"""
# "quick" ends at once; "slow" prints a line every 0.7 s, ten in all, then leaves a mark
TICKS = """\
if [ "$1" = quick ]; then echo "quick done"; echo quick > "$2/quick.txt"; exit 0; fi
for n in 1 2 3 4 5 6 7 8 9 10; do echo "tick $n"; sleep 0.7; done
echo slow > "$2/slow.txt"
touch slow-ended
"""


def _until(what: str, check: Callable[[], bool], *, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"waited {within:g} s for {what}"
        time.sleep(0.05)


def _stdout(running: Running) -> str:
    return running.out.read_text() if running.out.exists() else ""


def _slow_pods(space: Space) -> list[str]:
    """The running pods of the slow datum (as the cluster's administrator sees them)."""
    api = space.cluster.admin()
    try:
        pods = api.list_namespaced_pod(space.namespace).items
    finally:
        api.api_client.close()
    return [
        p.metadata.name
        for p in pods
        if p.status.phase == "Running"
        and '"slow"' in (p.metadata.annotations or {}).get("kite.dev/datums", "")
    ]


def _slow_runs(space: Space) -> bool:
    return bool(_slow_pods(space))


def _ticks(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines() if line.startswith("tick ")]


def _project(space: Space, *, quick: bool = True, defaults: str = "", batch: int = 1) -> Path:
    root = space.volume / "project"
    pipeline = PIPELINE.format(namespace=space.namespace, claim=CLAIM, mount=space.volume)
    pipeline = pipeline.replace("stages:\n", defaults + "stages:\n")
    if batch > 1:  # the datums share a pod, one container each, in turn
        pipeline += f"    batch: {batch}\n"
    files = {"pipeline.yaml": pipeline, "ticks.sh": TICKS, "data/raw/slow.txt": "s\n"}
    write(root, {**files, **({"data/raw/quick.txt": "q\n"} if quick else {})})
    assert space.kite(root, "install", "--env", "kube", admin=True).code == 0
    return root


@pytest.mark.parametrize("batch", [1, 2])
def test_follow_shows_a_pods_lines_while_it_runs_then_ends_with_the_run(
    space: Space, tmp_path: Path, batch: int
) -> None:
    """With `batch: 2` both datums share one pod: each is followed in its own container."""
    root = _project(space, batch=batch)
    mark = root / "slow-ended"
    apply = start(
        "apply", "--env", "kube", cwd=root, env={"KUBECONFIG": str(space.cluster.plane.kite)}
    )
    try:
        live = root / ".kite/live"
        _until("the slow datum's pod to run", lambda: _slow_runs(space))
        # the follower reaches the cluster as the apply recorded it, not by its own config
        nowhere = {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
        follower = start("logs", "-f", "last", "--env", "kube", cwd=root, env=nowhere)
        try:
            _until("the follower to print a tick", lambda: "tick " in _stdout(follower))
            assert not mark.exists(), "the first line came only after the datum ended"
            assert not apply.done()
            assert "==> tick name=slow attempt 1 (running) <==" in _stdout(follower)
            last = max(_ticks(_stdout(follower)))
            assert last < 10
            _until("the next tick", lambda: max(_ticks(_stdout(follower))) > last)
            assert not mark.exists()  # lines keep coming while it runs, as it writes them
            followed = follower.result(timeout=90)
        finally:
            follower.stop()
        assert mark.exists()  # it ended with the run, not before
        applied = apply.result(timeout=90)
    finally:
        apply.stop()
    assert applied.code == 0, applied.stderr
    assert followed.code == 0, followed.stderr
    assert "Traceback" not in followed.stderr, followed.stderr
    assert "following run " in followed.stderr
    text = followed.stdout
    assert _ticks(text) == list(range(1, 11)), text  # each line once, in order
    assert "==> tick name=slow attempt 1 (ended: succeeded, exit 0) <==" in text
    assert text.count("quick done") == 1, text  # seen running or stored, once either way
    assert not live.exists() or not any(live.iterdir())  # nothing left behind


def test_a_broken_log_stream_is_followed_again_without_a_line_missed_or_twice(
    space: Space, tmp_path: Path
) -> None:
    """The stream is cut (as a restarting API server or a load balancer does) and the next
    tries answer 503: the follower tries again with backoff and drops what it has shown."""
    proxy = FaultProxy(space.cluster.plane, tmp_path).start()
    try:
        root = _project(space)
        environ = {"KUBECONFIG": str(proxy.kubeconfig)}
        apply = start("apply", "--env", "kube", cwd=root, env=environ)
        try:
            _until("the slow datum's pod to run", lambda: _slow_runs(space))
            follower = start("logs", "-f", "last", "--env", "kube", cwd=root, env=environ)
            try:
                _until("the follower to print a tick", lambda: "tick " in _stdout(follower))
                proxy.faults.fail(2, code=503, where=r"/log\?.*follow=true")
                proxy.drop_watches()
                followed = follower.result(timeout=90)
            finally:
                follower.stop()
            applied = apply.result(timeout=90)
        finally:
            apply.stop()
    finally:
        proxy.stop()
    assert applied.code == 0, applied.stderr
    assert followed.code == 0, followed.stderr
    assert "Traceback" not in followed.stderr, followed.stderr
    assert _ticks(followed.stdout) == list(range(1, 11)), followed.stdout
    assert "following it again in" in followed.stderr, followed.stderr
    assert "503" in followed.stderr, followed.stderr
    assert followed.stdout.count("==> tick name=slow attempt 1 (running) <==") == 1


def test_a_pod_on_a_lost_node_stops_being_followed_and_its_retry_is_followed(
    space: Space,
) -> None:
    """Its node no longer answers (no status, no logs): the follower tries again a bounded
    number of times, then shows the attempt's stored note; the retry's lines come live."""
    root = _project(space, quick=False, defaults="  retries: {limit: 1, backoff: 1s}\n")
    environ = {"KUBECONFIG": str(space.cluster.plane.kite)}
    apply = start("apply", "--env", "kube", cwd=root, env=environ)
    try:
        _until("the slow datum's pod to run", lambda: _slow_runs(space))
        [pod] = _slow_pods(space)
        follower = start("logs", "-f", "last", "--env", "kube", cwd=root, env=environ)
        try:
            _until("the follower to print a tick", lambda: "tick " in _stdout(follower))
            began = time.monotonic()
            space.cluster.agent.lose(pod)
            api = space.cluster.admin()
            try:  # the node lifecycle controller deletes it: it stays Terminating
                api.delete_namespaced_pod(pod, space.namespace, grace_period_seconds=1)
            finally:
                api.api_client.close()
            followed = follower.result(timeout=150)
        finally:
            follower.stop()
        applied = apply.result(timeout=150)
    finally:
        apply.stop()
    assert applied.code == 0, applied.stderr
    assert followed.code == 0, followed.stderr
    assert "Traceback" not in followed.stderr, followed.stderr
    assert f"(pod {pod}): the API server answered 500" in followed.stderr, followed.stderr
    assert "following it again in 0.5s (try 1 of 5)" in followed.stderr
    assert followed.stderr.count("its stored log is shown when the run ends") == 1  # given up once
    text = followed.stdout
    live, stored = text.split("==> tick name=slow attempt 1 (failed) <==\n")
    assert "==> tick name=slow attempt 2 (running) <==" in live
    retry = live.split("==> tick name=slow attempt 2 (running) <==\n")[1]
    assert _ticks(retry) == list(range(1, 11)), text  # the retry, live, whole
    assert "[kite] the log of this attempt could not be read" in stored, text
    assert time.monotonic() - began < 120
    api = space.cluster.admin()
    try:  # what a lost node leaves: the administrator removes it
        api.delete_namespaced_pod(pod, space.namespace, grace_period_seconds=0)
    finally:
        api.api_client.close()
