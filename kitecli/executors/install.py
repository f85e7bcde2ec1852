"""`kite install`: everything an environment needs to run on Kubernetes, and on its own.

The namespace, one ServiceAccount per stage identity, the runner's ServiceAccount, Role and
RoleBinding, and with a `schedule:` the CronJob (kitecli/executors/runner.py). `manifests`
is pure (what should exist); `install` makes it so, idempotently: it creates what is
missing, replaces kite's own objects when they differ from what is wanted, and leaves
objects of the same name that kite did not make alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kitecli.errors import KiteError, StoreError, UsageError
from kitecli.executors import runner
from kitecli.executors.k8snames import label_value
from kitecli.executors.pods import AlreadyExists
from kitecli.executors.podspec import LABEL, MANAGED_BY, service_account
from kitecli.spec.model import Environment, Pipeline

Manifest = dict[str, Any]
APPLIED = LABEL + "applied"  # the digest of what kite last made an object from
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@dataclass(frozen=True)
class Change:
    """What install did (or would do) to one object."""

    kind: str  # Namespace | ServiceAccount | Role | RoleBinding | CronJob
    name: str
    action: str  # created | updated | unchanged | skipped | deleted
    note: str = ""


class Cluster(Protocol):
    """The calls install needs (kubernetes_objects.Objects has them)."""

    def read(self, kind: str, namespace: str, name: str) -> Manifest | None: ...

    def create(self, kind: str, namespace: str, body: Manifest) -> Manifest: ...

    def replace(self, kind: str, namespace: str, body: Manifest) -> Manifest: ...


def kubernetes_stages(pipeline: Pipeline, env: Environment) -> list[str]:
    """The stages (base names, matrix variants once) that run on Kubernetes in `env`."""
    names: list[str] = []
    for stage in pipeline.stages.values():
        if pipeline.executor_for(stage, env) == "kubernetes" and stage.base not in names:
            names.append(stage.base)
    return names


def manifests(pipeline: Pipeline, env: Environment, *, user: str, namespace: str) -> list[Manifest]:
    """The Namespace, one ServiceAccount per stage identity, the runner's ServiceAccount,
    Role and RoleBinding, and the CronJob of the schedule, as plain dicts."""
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
    crew = runner.runner_objects(pipeline.name, env, user=user, namespace=namespace)
    if crew[0]["metadata"]["name"] in seen:
        raise KiteError(
            f"the runner's service account {crew[0]['metadata']['name']} is also the "
            "identity of a stage",
            hint="give that stage another `identity:`",
        )
    out += crew
    if env.schedule is not None:
        out.append(runner.cronjob(pipeline.name, env, user=user, namespace=namespace))
    return out


def _account(
    pipeline: Pipeline, env: Environment, base: str, name: str, *, namespace: str, user: str
) -> Manifest:
    labels = {
        **runner.install_labels(pipeline.name, env.name, user, "stage"),
        LABEL + "stage": label_value(base),
    }
    annotations = {**env.service_account_annotations, LABEL + "installed-by": user}
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(annotations.items())),
        },
        "automountServiceAccountToken": False,
    }


def install(cluster: Cluster, wanted: Sequence[Manifest]) -> list[Change]:
    """Create what is missing and refresh kite's own objects; never touch anything else."""
    changes: list[Change] = []
    for manifest in wanted:
        if manifest["kind"] == "Namespace":
            changes.append(_namespace(cluster, manifest))
        else:
            changes.append(_ensure(cluster, manifest))
    return changes


def _namespace(cluster: Cluster, manifest: Manifest) -> Change:
    name = manifest["metadata"]["name"]
    try:
        if cluster.read("Namespace", "", name) is not None:
            return Change("Namespace", name, "unchanged")
        cluster.create("Namespace", "", manifest)
    except AlreadyExists:
        return Change("Namespace", name, "unchanged")
    except StoreError as exc:  # not allowed to read or create namespaces: an admin's job
        return Change("Namespace", name, "skipped", f"not allowed here ({exc.message})")
    return Change("Namespace", name, "created")


def _ensure(cluster: Cluster, manifest: Manifest) -> Change:
    """Create `manifest`, or replace kite's own object of its name when what it was made
    from (the digest in its `kite.dev/applied` annotation) or its labels differ."""
    body = {k: v for k, v in manifest.items() if k != "metadata"}
    meta = dict(manifest["metadata"])
    meta["annotations"] = {**meta.get("annotations", {}), APPLIED: applied_digest(body)}
    manifest = {**manifest, "metadata": meta}
    kind, name, namespace = manifest["kind"], meta["name"], meta["namespace"]
    current = cluster.read(kind, namespace, name)
    if current is None:
        try:
            cluster.create(kind, namespace, manifest)
            return Change(kind, name, "created")
        except AlreadyExists:
            current = cluster.read(kind, namespace, name)
            if current is None:
                raise StoreError(f"{kind} {name} keeps appearing and vanishing") from None
    have = current["metadata"]
    if have.get("labels", {}).get("app.kubernetes.io/managed-by") != "kite":
        return Change(kind, name, "unchanged", "exists, not made by kite: left alone")
    if _covers(have, meta):
        return Change(kind, name, "unchanged")
    merged = {  # what is wanted, whole: a field the pipeline no longer asks for goes
        **body,
        "metadata": {
            **have,
            "labels": {**have.get("labels", {}), **meta["labels"]},
            "annotations": {**have.get("annotations", {}), **meta["annotations"]},
        },
    }
    cluster.replace(kind, namespace, merged)
    return Change(kind, name, "updated")


def applied_digest(body: Manifest) -> str:
    """A short digest of an object's wanted content (all but its metadata)."""
    import hashlib
    import json

    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    yaml.width = 4096  # an image pinned by digest stays on its line
    stream = io.StringIO()
    yaml.dump_all(list(wanted), stream)
    return stream.getvalue().rstrip("\n")


def warnings(pipeline: Pipeline, env: Environment) -> list[str]:
    """What is valid but likely to hurt on a real cluster (no cluster needed to know)."""
    found: list[str] = []
    if env.schedule is not None and runner.image_digest(env.schedule.image) is None:
        found.append(
            f"the schedule's image {env.schedule.image} is not pinned by digest: each run "
            "takes whatever the tag names then; write it as NAME@sha256:… (docs/schedules.md)"
        )
    bare = [
        base
        for base in kubernetes_stages(pipeline, env)
        if not any(_asks(s) for s in pipeline.variants(base))
    ]
    if bare:
        found.append(
            f"no `resources:` on {'stages' if len(bare) > 1 else 'stage'} {', '.join(bare)}: "
            "such pods are BestEffort, the first to be evicted, and the scheduler cannot "
            "place them well; give cpu and memory (on the stage or under `defaults:`)"
        )
    return found


def _asks(stage: Any) -> bool:
    resources = stage.resources
    return bool(resources.cpu or resources.memory)


def claim_warnings(env: Environment, claim: Manifest | None) -> list[str]:
    """A claim only one node can mount: the runner's pod and the stages' pods must all be
    scheduled on that node."""
    if env.volume is None:
        return []
    if claim is None:
        return [
            f"the claim {env.volume.claim} does not exist (yet): create it, ReadWriteMany on "
            "a cluster of more than one node"
        ]
    modes = claim.get("spec", {}).get("accessModes", [])
    if "ReadWriteMany" in modes:
        return []
    return [
        f"the claim {env.volume.claim} is {', '.join(modes) or 'of no access mode'}, not "
        "ReadWriteMany: on a cluster of more than one node, pods that land elsewhere cannot "
        "mount it and wait (docs/kubernetes.md, Data)"
    ]


def run_install(
    pipeline: Pipeline,
    env: Environment,
    *,
    user: str,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> tuple[list[Change], list[str]]:
    """Connect to the cluster and install everything `env` needs there: what changed, and
    the warnings."""
    from kitecli.executors.kubernetes import ClusterApi
    from kitecli.executors.kubernetes_objects import Objects
    from kitecli.executors.pods import KubernetesOptions

    api = ClusterApi.connect(KubernetesOptions(kubeconfig=kubeconfig, context=context))
    try:
        namespace = env.namespace or api.namespace
        objects = Objects(api)
        changes = install(objects, manifests(pipeline, env, user=user, namespace=namespace))
        said = warnings(pipeline, env)
        if env.volume is not None:
            try:
                claim = objects.read("PersistentVolumeClaim", namespace, env.volume.claim)
                said += claim_warnings(env, claim)
            except StoreError as exc:
                said.append(f"the claim {env.volume.claim} could not be read: {exc.message}")
        return changes, said
    finally:
        api.close()
