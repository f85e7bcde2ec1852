"""The contract suite's rig for a real cluster (KITE_TEST_KUBECONFIG; kind works).

It creates (once, idempotently) a namespace labelled for the restricted profile, the service
accounts the suite's stages use, and a PersistentVolumeClaim mounted at /data; then it
pre-pulls the test image with one pod, so timeouts do not count the pull.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from kitecli.executors.install import RESTRICTED
from kitecli.executors.kubernetes import AlreadyExists, ClusterApi, KubernetesExecutor
from kitecli.executors.pods import KubernetesOptions
from tests.executors.rigs import Rig, volume_environment

NAMESPACE = os.environ.get("KITE_TEST_NAMESPACE", "kite-test")
CLAIM = os.environ.get("KITE_TEST_CLAIM", "kite-test-data")
MOUNT = "/data"
STAGES = ("step", "first", "second", "many")


def cluster_rig(kubeconfig: str) -> Iterator[Rig]:
    options = KubernetesOptions(kubeconfig=kubeconfig, grace=60.0, stuck_grace=60.0)
    api = ClusterApi.connect(options)
    try:
        _prepare(api)
    finally:
        api.close()
    env = volume_environment("prod", MOUNT, claim=CLAIM, namespace=NAMESPACE)
    executor = KubernetesExecutor(options)
    rig = Rig(executor, env, "/", f"{MOUNT}/prod/scratch", None)
    setup = rig.task(["sh", "-c", f"mkdir -p {rig.scratch}"])
    outcome = executor.wait(executor.submit(setup))
    assert outcome.ok, f"cannot prepare the volume: {outcome.reason} {outcome.detail}"
    try:
        yield rig
    finally:
        executor.close()


def _prepare(api: ClusterApi) -> None:
    namespace = {"metadata": {"name": NAMESPACE, "labels": dict(RESTRICTED)}}
    for kind, ns, body in [
        ("namespace", "", namespace),
        *[
            ("serviceaccount", NAMESPACE, {"metadata": {"name": f"kite-prod-contract-{s}"}})
            for s in STAGES
        ],
    ]:
        if api.read(kind, ns, body["metadata"]["name"]) is None:
            with contextlib.suppress(AlreadyExists):
                api.write(kind, ns, body)
    _claim(api)


def _claim(api: ClusterApi) -> None:
    from kubernetes.client import ApiException

    body = {
        "metadata": {"name": CLAIM},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    try:
        api.core.create_namespaced_persistent_volume_claim(NAMESPACE, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
