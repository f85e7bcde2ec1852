"""`kite install`: the namespace and one ServiceAccount per stage an environment runs on Kubernetes.

`manifests` is pure (what should exist); `install` makes it so, idempotently: it creates
what is missing, updates the accounts kite made when their labels or annotations changed,
and leaves everything else alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kitecli.errors import KiteError, StoreError, UsageError
from kitecli.executors.k8snames import label_value
from kitecli.executors.pods import AlreadyExists
from kitecli.executors.podspec import LABEL, MANAGED_BY, service_account
from kitecli.spec.model import Environment, Pipeline

Manifest = dict[str, Any]
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@dataclass(frozen=True)
class Change:
    """What install did (or would do) to one object."""

    kind: str  # Namespace | ServiceAccount
    name: str
    action: str  # created | updated | unchanged | skipped
    note: str = ""


class Cluster(Protocol):
    """The calls install needs (kubernetes.ClusterApi has them)."""

    def read(self, kind: str, namespace: str, name: str) -> Manifest | None: ...

    def write(
        self, kind: str, namespace: str, body: Manifest, *, replace: bool = False
    ) -> Manifest: ...


def kubernetes_stages(pipeline: Pipeline, env: Environment) -> list[str]:
    """The stages (base names, matrix variants once) that run on Kubernetes in `env`."""
    names: list[str] = []
    for stage in pipeline.stages.values():
        if pipeline.executor_for(stage, env) == "kubernetes" and stage.base not in names:
            names.append(stage.base)
    return names


def manifests(pipeline: Pipeline, env: Environment, *, user: str, namespace: str) -> list[Manifest]:
    """The Namespace, then one ServiceAccount per stage identity, as plain dicts."""
    bases = kubernetes_stages(pipeline, env)
    if not bases:
        raise KiteError(
            f"no stage runs on Kubernetes in environment {env.name!r}",
            hint="set `executor: kubernetes` on the environment, under `defaults:` or on a stage",
        )
    out: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {**MANAGED_BY, **RESTRICTED}},
        }
    ]
    seen: set[str] = set()
    for base in bases:
        stage = pipeline.variants(base)[0]
        name = service_account(env.name, pipeline.name, stage)
        if name in seen:
            continue
        seen.add(name)
        out.append(_account(pipeline, env, base, name, namespace=namespace, user=user))
    return out


def _account(
    pipeline: Pipeline, env: Environment, base: str, name: str, *, namespace: str, user: str
) -> Manifest:
    labels = {
        **MANAGED_BY,
        LABEL + "pipeline": label_value(pipeline.name),
        LABEL + "env": label_value(env.name),
        LABEL + "stage": label_value(base),
        LABEL + "installed-by": label_value(user),
    }
    annotations = {**env.service_account_annotations, LABEL + "installed-by": user}
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": dict(sorted(annotations.items())),
        },
        "automountServiceAccountToken": False,
    }


def install(cluster: Cluster, wanted: Sequence[Manifest]) -> list[Change]:
    """Create what is missing and refresh kite's own accounts; never touch anything else."""
    changes: list[Change] = []
    for manifest in wanted:
        if manifest["kind"] == "Namespace":
            changes.append(_namespace(cluster, manifest))
        else:
            changes.append(_service_account(cluster, manifest))
    return changes


def _namespace(cluster: Cluster, manifest: Manifest) -> Change:
    name = manifest["metadata"]["name"]
    try:
        if cluster.read("namespace", "", name) is not None:
            return Change("Namespace", name, "unchanged")
        cluster.write("namespace", "", manifest)
    except AlreadyExists:
        return Change("Namespace", name, "unchanged")
    except StoreError as exc:  # not allowed to read or create namespaces: an admin's job
        return Change("Namespace", name, "skipped", f"not allowed here ({exc.message})")
    return Change("Namespace", name, "created")


def _service_account(cluster: Cluster, manifest: Manifest) -> Change:
    meta = manifest["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    current = cluster.read("serviceaccount", namespace, name)
    if current is None:
        try:
            cluster.write("serviceaccount", namespace, manifest)
            return Change("ServiceAccount", name, "created")
        except AlreadyExists:
            current = cluster.read("serviceaccount", namespace, name)
            if current is None:
                raise StoreError(f"service account {name} keeps appearing and vanishing") from None
    have = current["metadata"]
    if have.get("labels", {}).get("app.kubernetes.io/managed-by") != "kite":
        return Change("ServiceAccount", name, "unchanged", "exists, not made by kite: left alone")
    if _covers(have, meta):
        return Change("ServiceAccount", name, "unchanged")
    merged = {
        **current,
        "metadata": {
            **have,
            "labels": {**have.get("labels", {}), **meta["labels"]},
            "annotations": {**have.get("annotations", {}), **meta["annotations"]},
        },
    }
    cluster.write("serviceaccount", namespace, merged, replace=True)
    return Change("ServiceAccount", name, "updated")


def _covers(have: Manifest, want: Manifest) -> bool:
    """True when `have` already carries every label and annotation of `want`."""
    return all(
        have.get(field, {}).get(key) == value
        for field in ("labels", "annotations")
        for key, value in want.get(field, {}).items()
    )


def select_environment(pipeline: Pipeline, name: str | None) -> Environment:
    """The named environment (`--env` or KITE_ENV); required when there are several."""
    if name is None:
        if len(pipeline.environments) == 1:
            return next(iter(pipeline.environments.values()))
        raise UsageError(
            "which environment? give --env", hint=f"one of: {', '.join(pipeline.environments)}"
        )
    if name not in pipeline.environments:
        raise UsageError(
            f"no environment {name!r} in {pipeline.path.name}",
            hint=f"one of: {', '.join(pipeline.environments)}",
        )
    return pipeline.environments[name]


def to_yaml(wanted: Sequence[Manifest]) -> str:
    """The manifests as one multi-document YAML stream (for `kubectl apply -f -`)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump_all(list(wanted), stream)
    return stream.getvalue().rstrip("\n")


def run_install(
    pipeline: Pipeline,
    env: Environment,
    *,
    user: str,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> list[Change]:
    """Connect to the cluster and install `env`'s namespace and service accounts."""
    from kitecli.executors.kubernetes import ClusterApi
    from kitecli.executors.pods import KubernetesOptions

    api = ClusterApi.connect(KubernetesOptions(kubeconfig=kubeconfig, context=context))
    try:
        namespace = env.namespace or api.namespace
        return install(api, manifests(pipeline, env, user=user, namespace=namespace))
    finally:
        api.close()
