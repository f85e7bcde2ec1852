"""The `executor` fixture: one rig per executor the contract suite runs against."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitecli.executors import podspec
from kitecli.executors.kubernetes import KubernetesExecutor
from kitecli.executors.local import LocalExecutor
from kitecli.executors.pods import KubernetesOptions
from kitecli.spec.model import Environment
from tests.executors.rigs import Rig, local_dir, volume_environment
from tests.k8s.controlplane.fixtures import prepare
from tests.k8s.fixtures import CLAIM, fake_cluster

ACCOUNT = "kite-{env}-contract-step"


def _local_rig(tmp_path: Path) -> Iterator[Rig]:
    """The local executor: processes on this machine, in a scratch directory of the test."""
    data = local_dir(tmp_path / "data")
    env = Environment(
        name="prod",
        data=str(data),
        metadata=str(tmp_path / "meta"),
        cache=str(tmp_path / "cache"),
        executor="local",
    )
    executor = LocalExecutor()  # as `kite apply` makes it
    scratch = local_dir(data / "scratch")
    try:
        yield Rig(
            executor=executor,
            env=env,
            workdir=str(tmp_path),
            scratch=str(scratch),
            local_scratch=scratch,
        )
    finally:
        executor.close()


def _kubernetes_rig(tmp_path: Path) -> Iterator[Rig]:
    """The kubernetes executor against the fake cluster; its volume is a local directory."""
    with fake_cluster(tmp_path) as cluster:
        env = volume_environment(
            "prod", str(cluster.volume), claim=CLAIM, namespace=cluster.namespace
        )
        for name in ("step", "first", "second", "many"):
            cluster.server.add_service_account(cluster.namespace, f"kite-prod-contract-{name}")
        executor = KubernetesExecutor(cluster.options())
        scratch = local_dir(cluster.volume / "prod" / "scratch")
        try:
            yield Rig(
                executor=executor,
                env=env,
                workdir="/",
                scratch=str(scratch),
                local_scratch=scratch,
                doom=cluster.kubelet.doom,
                pod_name=podspec.pod_name,
            )
        finally:
            executor.close()


def _controlplane_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    """The kubernetes executor, as the limited user `kite`, against the real API server that
    `make test` builds (tests/k8s/controlplane); its volume is a local folder (hostPath)."""
    cluster = request.getfixturevalue("real_cluster")
    namespace = "kite-" + uuid.uuid4().hex[:8]
    volume = tmp_path / "volume"
    accounts = [f"kite-prod-contract-{name}" for name in ("step", "first", "second", "many")]
    prepare(cluster, namespace, volume, accounts, CLAIM)
    env = volume_environment("prod", str(volume), claim=CLAIM, namespace=namespace)
    options = KubernetesOptions(kubeconfig=str(cluster.plane.kite), backoff=0.05, backoff_cap=0.5)
    executor = KubernetesExecutor(options)
    scratch = local_dir(volume / "prod" / "scratch")
    try:
        yield Rig(executor, env, "/", str(scratch), scratch, pod_name=podspec.pod_name)
    finally:
        executor.close()


def _cluster_rig(tmp_path: Path) -> Iterator[Rig]:
    """The kubernetes executor against the real cluster of KITE_TEST_KUBECONFIG."""
    kubeconfig = os.environ.get("KITE_TEST_KUBECONFIG")
    if not kubeconfig:
        pytest.skip("set KITE_TEST_KUBECONFIG to run against a real cluster")
    from tests.executors.real_cluster import cluster_rig

    yield from cluster_rig(kubeconfig)


RIGS = {"local": _local_rig, "kubernetes": _kubernetes_rig, "cluster": _cluster_rig}


@pytest.fixture(
    params=[
        "local",
        "kubernetes",
        "controlplane",
        pytest.param("cluster", marks=pytest.mark.cluster),
    ]
)
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    """A Rig (an executor and a task builder) for each executor the contract covers."""
    if request.param == "controlplane":
        yield from _controlplane_rig(request, tmp_path)
    else:
        yield from RIGS[request.param](tmp_path)
