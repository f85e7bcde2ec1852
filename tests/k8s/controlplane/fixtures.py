"""The real control plane as pytest fixtures: one per test session, with its node agent.

`real_cluster` is skipped unless KITE_TEST_CONTROLPLANE names the folder of the binaries
build.sh made (`make test` sets it). `prepare(...)` gives a test a namespace as a cluster
administrator would: restricted Pod Security, kite's service accounts, a claim bound to a
hostPath volume on a local folder, and the Role docs/kubernetes.md asks for, bound to `kite`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kitecli.executors.install import RESTRICTED
from tests.k8s.controlplane.cluster import ControlPlane, control_plane
from tests.k8s.controlplane.node_agent import REGISTER, NodeAgent

# what docs/kubernetes.md asks for the identity kite runs as
KITE_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "get", "list", "watch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]


@dataclass(frozen=True)
class RealCluster:
    plane: ControlPlane
    agent: NodeAgent

    def admin(self) -> Any:
        """A CoreV1Api of the administrator (the caller closes its api_client)."""
        from kubernetes import client, config

        return client.CoreV1Api(config.new_client_from_config(str(self.plane.admin)))


@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    """A running control plane and one node; skipped without KITE_TEST_CONTROLPLANE."""
    binaries = os.environ.get("KITE_TEST_CONTROLPLANE")
    if not binaries:
        pytest.skip(
            "KITE_TEST_CONTROLPLANE is not set: run `make test` (it builds the control plane)"
        )
    with tempfile.TemporaryDirectory(prefix="kite-controlplane-") as tmp:
        root = Path(tmp)
        with control_plane(Path(binaries), root) as plane:
            agent = NodeAgent(plane, root / "node").start()
            try:
                _wait_schedulable(agent)
                yield RealCluster(plane, agent)
            finally:
                agent.stop()


def _wait_schedulable(agent: NodeAgent) -> None:
    """Wait (REGISTER s at most) until the node is Ready and untainted."""
    began = time.monotonic()
    while True:
        node = agent.api.read_node(agent.name)
        ready = [c for c in node.status.conditions or [] if c.type == "Ready"]
        if ready and ready[0].status == "True" and not node.spec.taints:
            return
        if time.monotonic() - began > REGISTER:
            raise RuntimeError(
                f"node {agent.name} is not schedulable after {REGISTER:.0f} s: {node.spec.taints}"
            )
        time.sleep(0.2)


def prepare(
    cluster: RealCluster,
    namespace: str,
    volume: Path,
    accounts: list[str],
    claim: str,
    *,
    source: dict[str, Any] | None = None,
) -> None:
    """Namespace, accounts, the claim `claim` on the folder `volume`, and kite's Role.

    `source`: the PersistentVolume's source instead of a hostPath on `volume` (one the node
    agent cannot mount: its pods stay ContainerCreating)."""
    from kubernetes import client

    api = cluster.admin()
    rbac = client.RbacAuthorizationV1Api(api.api_client)
    try:
        api.create_namespace({"metadata": {"name": namespace, "labels": dict(RESTRICTED)}})
        for account in accounts:
            api.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
        _claim(api, namespace, volume, claim, source)
        rbac.create_namespaced_role(namespace, {"metadata": {"name": "kite"}, "rules": KITE_RULES})
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "kite"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "kite",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kite"}
                ],
            },
        )
    finally:
        api.api_client.close()


def _claim(
    api: Any, namespace: str, volume: Path, claim: str, source: dict[str, Any] | None = None
) -> None:
    """A hostPath PersistentVolume on `volume`, and the claim bound to it (bounded wait)."""
    volume.mkdir(parents=True, exist_ok=True)
    pv = f"{namespace}-{claim}"
    api.create_persistent_volume(
        {
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                **(source or {"hostPath": {"path": str(volume), "type": "Directory"}}),
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
    )
    api.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": claim},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "volumeName": pv,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    began = time.monotonic()
    while api.read_namespaced_persistent_volume_claim(claim, namespace).status.phase != "Bound":
        if time.monotonic() - began > 30:
            raise RuntimeError(f"claim {namespace}/{claim} is not Bound after 30 s")
        time.sleep(0.1)
