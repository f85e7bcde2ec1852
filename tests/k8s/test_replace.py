"""A pod of the same name that is not this attempt's (`adopt=False`) is replaced, not adopted."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.executors.rigs import Rig
from tests.k8s.fixtures import FakeCluster
from tests.k8s.test_kubernetes_executor import SH, cluster, name_of, rig_for, run, wait_until

__all__ = ["cluster"]  # the fixture


@pytest.fixture
def kept(cluster: FakeCluster) -> Iterator[Rig]:
    made = rig_for(cluster, keep_pods=True)
    yield made
    made.executor.close()


def test_a_kept_pod_of_the_same_work_is_replaced(kept: Rig, cluster: FakeCluster) -> None:
    old = kept.task([SH, "-c", "echo old"], fingerprint="b3:" + "1" * 64)
    assert run(kept, old).log == b"old\n"
    assert [p["status"]["phase"] for p in cluster.server.pods()] == ["Succeeded"]  # kept
    exists = kept.executor.exists  # type: ignore[attr-defined]
    assert exists([old])
    fresh = dataclasses.replace(old, argv=(SH, "-c", "echo new"), adopt=False)
    outcome = run(kept, fresh)
    assert outcome.log == b"new\n"  # it ran: the old pod's result was not taken for it
    assert cluster.server.created == {name_of(old): 2}


def test_adopt_true_takes_the_existing_pod(kept: Rig, cluster: FakeCluster) -> None:
    old = kept.task([SH, "-c", "echo old"], fingerprint="b3:" + "2" * 64)
    run(kept, old)
    again = dataclasses.replace(old, argv=(SH, "-c", "echo new"), adopt=True)
    assert run(kept, again).log == b"old\n"
    assert cluster.server.created == {name_of(old): 1}
    wait_until(lambda: len(cluster.server.pods()) == 1)
