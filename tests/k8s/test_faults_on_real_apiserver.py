"""The API server's bad moments, injected by a proxy in front of the real one: watches cut
and expired (410), 429 bursts, 5xx; kite's answers are those the fake server's tests expect."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.executors.rigs import Rig
from tests.k8s.controlplane.faultproxy import FaultProxy
from tests.k8s.test_real_apiserver import SH, Space, run, space

__all__ = ["space"]


@pytest.fixture
def proxy(space: Space, tmp_path: Path) -> Iterator[FaultProxy]:
    started = FaultProxy(space.cluster.plane, tmp_path).start()
    try:
        yield started
    finally:
        started.stop()


def rig_through(space: Space, proxy: FaultProxy, **options: object) -> Rig:
    return space.rig(kubeconfig=str(proxy.kubeconfig), **options)


@pytest.fixture
def rig(space: Space, proxy: FaultProxy) -> Iterator[Rig]:
    made = rig_through(space, proxy)
    yield made
    made.executor.close()


def test_a_dropped_watch_is_resumed(rig: Rig, space: Space, proxy: FaultProxy) -> None:
    handle = rig.executor.submit(rig.task([SH, "-c", "sleep 1.5; echo survived"]))
    time.sleep(0.7)
    proxy.drop_watches()
    outcome = rig.executor.wait(handle)
    assert outcome.log == b"survived\n"
    watcher = rig.executor.watchers[space.namespace]  # type: ignore[attr-defined]
    assert watcher.resumes >= 1


def test_410_gone_lists_again(rig: Rig, space: Space, proxy: FaultProxy) -> None:
    handle = rig.executor.submit(rig.task([SH, "-c", "sleep 1.5; echo survived"]))
    time.sleep(0.7)
    proxy.faults.gone(1)  # the next watch, resuming, is told its version is too old
    proxy.drop_watches()
    outcome = rig.executor.wait(handle)
    assert outcome.log == b"survived\n"
    watcher = rig.executor.watchers[space.namespace]  # type: ignore[attr-defined]
    assert watcher.relists >= 1


def test_429_bursts_are_retried(rig: Rig, proxy: FaultProxy) -> None:
    proxy.faults.throttle(4, method="POST")
    assert run(rig, rig.task([SH, "-c", "echo ok"])).ok
    posts = [r for r in proxy.requests if r[0] == "POST"]
    assert len(posts) == 5


def test_500s_are_retried(rig: Rig, proxy: FaultProxy) -> None:
    proxy.faults.fail(3)
    assert run(rig, rig.task([SH, "-c", "echo ok"])).log == b"ok\n"


def test_creates_that_keep_failing_fail_the_datum_at_its_start_timeout(
    space: Space, proxy: FaultProxy
) -> None:
    failing = rig_through(space, proxy, retries=2, start_timeout=2.0)
    proxy.faults.fail(1000, code=503, method="POST")
    try:
        outcome = run(failing, failing.task([SH, "-c", "true"]))
    finally:
        failing.executor.close()
    assert outcome.reason == "start-timeout"
    assert "503" in outcome.detail
    assert space.pods() == []
