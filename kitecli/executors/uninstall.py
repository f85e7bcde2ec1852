"""`kite uninstall`: delete what `kite install` made for one environment, and nothing else.

It selects by the labels install puts on everything (managed by kite, the pipeline, the
environment), kind by kind: the CronJob (its Jobs and their pods go with it), the runner's
RoleBinding and Role, the service accounts. An object of the same name that kite did not
make carries no such labels and is never seen. The namespace stays: it may hold the claim
with the data, and other environments.
"""

from __future__ import annotations

from typing import Any, Protocol

from kitecli.executors import runner
from kitecli.executors.install import Change

Manifest = dict[str, Any]
KINDS = ("CronJob", "RoleBinding", "Role", "ServiceAccount")  # the users before the used


class Cluster(Protocol):
    def list(self, kind: str, namespace: str, selector: str) -> list[Manifest]: ...

    def delete(self, kind: str, namespace: str, name: str) -> bool: ...


def installed(cluster: Cluster, *, pipeline: str, env: str, namespace: str) -> list[Change]:
    """What install made for `env` of `pipeline` in `namespace`, as it is now."""
    wanted = runner.selector(pipeline, env)
    found: list[Change] = []
    for kind in KINDS:
        for item in cluster.list(kind, namespace, wanted):
            found.append(Change(kind, item["metadata"]["name"], "installed"))
    return found


def uninstall(
    cluster: Cluster, *, pipeline: str, env: str, namespace: str, dry_run: bool = False
) -> list[Change]:
    """Delete (or, with `dry_run`, name) everything install made for `env`."""
    changes: list[Change] = []
    for item in installed(cluster, pipeline=pipeline, env=env, namespace=namespace):
        if dry_run:
            changes.append(Change(item.kind, item.name, "would be deleted"))
            continue
        gone = cluster.delete(item.kind, namespace, item.name)
        changes.append(Change(item.kind, item.name, "deleted" if gone else "already gone"))
    changes.append(
        Change(
            "Namespace",
            namespace,
            "kept",
            "it may hold the claim with your data; `kubectl delete namespace` removes it",
        )
    )
    return changes


def run_uninstall(
    pipeline: str,
    env: str,
    *,
    namespace: str | None,
    dry_run: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> list[Change]:
    """Connect to the cluster and uninstall `env`."""
    from kitecli.executors.kubernetes import ClusterApi
    from kitecli.executors.kubernetes_objects import Objects
    from kitecli.executors.pods import KubernetesOptions

    api = ClusterApi.connect(KubernetesOptions(kubeconfig=kubeconfig, context=context))
    try:
        return uninstall(
            Objects(api),
            pipeline=pipeline,
            env=env,
            namespace=namespace or api.namespace,
            dry_run=dry_run,
        )
    finally:
        api.close()
