"""A fake cluster (API server + kubelet) for tests, and executor options that suit it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kitecli.executors.pods import KubernetesOptions
from tests.k8s.fake_apiserver import FakeApiServer
from tests.k8s.fake_kubelet import FakeKubelet

NAMESPACE = "kite-test"
CLAIM = "kite-data"
MISSING_IMAGE = "registry.invalid/kite/missing:1"


@dataclass(frozen=True)
class FakeCluster:
    server: FakeApiServer
    kubelet: FakeKubelet
    kubeconfig: Path
    volume: Path  # the local directory that is the PersistentVolumeClaim CLAIM
    namespace: str = NAMESPACE

    def options(self, **overrides: object) -> KubernetesOptions:
        """Executor options with fast backoff and short grace periods, for tests."""
        values: dict[str, object] = {
            "kubeconfig": str(self.kubeconfig),
            "backoff": 0.01,
            "backoff_cap": 0.05,
            "grace": 3.0,
            "stuck_grace": 0.3,
            "watch_timeout": 5,
        }
        values.update(overrides)
        return KubernetesOptions(**values)  # type: ignore[arg-type]


@contextmanager
def fake_cluster(root: Path, *, service_accounts: tuple[str, ...] = ()) -> Iterator[FakeCluster]:
    """A running fake cluster whose volume CLAIM is `root/volume`, mounted at that same path."""
    server = FakeApiServer().start()
    volume = root / "volume"
    volume.mkdir(parents=True, exist_ok=True)
    kubelet = FakeKubelet(
        server, volumes={CLAIM: volume}, logs=root / "kubelet-logs", missing_images=(MISSING_IMAGE,)
    )
    server.add_namespace(NAMESPACE)
    for account in service_accounts:
        server.add_service_account(NAMESPACE, account)
    try:
        yield FakeCluster(server, kubelet, server.kubeconfig(root / "kubeconfig"), volume)
    finally:
        kubelet.stop()
        server.stop()
