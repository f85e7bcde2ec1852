"""Task attempts → Pod manifests (plain dicts): pure, secure by default, golden-tested.

One pod per attempt; with `batch`, one pod for several datums, each datum a container run
in order (all but the last as init containers) so each keeps its own exit code and log.
"""

from __future__ import annotations

import copy
import json
import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kitecli.errors import KiteError, ProjectError
from kitecli.executors.base import Task
from kitecli.executors.k8snames import (
    datum_label,
    dns_label,
    is_dns_subdomain,
    label_value,
    short_hash,
)
from kitecli.spec.model import Environment, PodKnobs, Resources, Stage

OLDEST_KUBERNETES = "1.29"  # the oldest cluster version generated pods are validated against
LABEL = "kite.dev/"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kite"}
DATA_VOLUME = "data"
TMP_VOLUME = "tmp"
DATUM_FOLDER = "/kite/datum"  # where a pod sees its datum's folder, the same in every run


@dataclass(frozen=True)
class Mount:
    """A PersistentVolumeClaim, or a folder (`sub_path`) in one, mounted at `path`."""

    claim: str
    path: str
    sub_path: str = ""
    read_only: bool = False


@dataclass(frozen=True)
class PodOptions:
    """How pods are shaped beyond what the task says; the defaults are the secure ones."""

    namespace: str = "default"
    read_only: tuple[Mount, ...] = ()  # other environments' data roots
    run_as_user: int = 1000
    run_as_group: int = 1000
    fs_group: int | None = 1000


def read_only_root(env: Environment) -> Mount | None:
    """Another environment's data root as a read-only mount, when it lives on a volume."""
    if env.volume is None:
        return None
    mount = env.volume.mount.rstrip("/") or "/"
    rel = posixpath.relpath(env.data, mount)
    if rel.startswith(".."):
        raise ProjectError(
            f"environment {env.name!r}: data {env.data} is not inside its volume mount {mount}",
            hint="put `data` under `volume.mount`",
        )
    return Mount(env.volume.claim, env.data, "" if rel == "." else rel, read_only=True)


def service_account(env: str, pipeline: str, stage: Stage) -> str:
    """The stage's identity (`{env}` in it is the environment), by default
    `kite-<env>-<pipeline>-<stage>` as a DNS name."""
    if stage.identity is not None:
        identity = stage.identity.replace("{env}", env)
        if not is_dns_subdomain(identity):
            raise KiteError(
                f"stage {stage.base!r}: identity {identity!r} is not a valid "
                "Kubernetes service account name",
                hint="use lowercase letters, digits, '-' and '.', starting with a letter or digit",
            )
        return identity
    return dns_label(f"kite-{env}-{pipeline}-{stage.base}")


def pod_name(tasks: Sequence[Task]) -> str:
    """`<stage>-<hash>-<attempt>`, the hash over pipeline, environment and fingerprints.

    The same attempt of the same work always gets the same name, so a re-run after a crash
    finds (409) the pod it created before instead of starting a second one.
    """
    first = tasks[0]
    ident = "\0".join(
        [first.pipeline, first.env.name, *(f"{t.fingerprint}#{t.attempt}" for t in tasks)]
    )
    tail = f"-{short_hash(ident, 16)}-{first.attempt}"
    return dns_label(first.stage.name, limit=30) + tail


def labels(tasks: Sequence[Task]) -> dict[str, str]:
    """Label values for selection (`kubectl get pods -l kite.dev/stage=clean`), sanitised."""
    first = tasks[0]
    out = {
        **MANAGED_BY,
        LABEL + "pipeline": label_value(first.pipeline),
        LABEL + "stage": label_value(first.stage.name),
        LABEL + "env": label_value(first.env.name),
        LABEL + "run": label_value(first.run_id),
        LABEL + "datum": datum_label(first.key),
        LABEL + "attempt": str(first.attempt),
    }
    if len(tasks) > 1:
        out[LABEL + "batch"] = str(len(tasks))
    return out


def pod_annotations(tasks: Sequence[Task]) -> dict[str, str]:
    """The exact values the labels could only approximate."""
    first = tasks[0]
    return {
        LABEL + "pipeline": first.pipeline,
        LABEL + "stage": first.stage.name,
        LABEL + "run": first.run_id,
        LABEL + "attempt": str(first.attempt),
        LABEL + "datums": json.dumps([dict(sorted(t.key.items())) for t in tasks]),
        LABEL + "fingerprints": json.dumps([t.fingerprint for t in tasks]),
    }


def no_image(stage: str) -> KiteError:
    """A stage that runs on Kubernetes without an image: said before anything runs."""
    return KiteError(
        f"stage {stage!r} runs on Kubernetes but has no image",
        hint="set `image:` on the stage or under `defaults:`",
    )


def build_pod(tasks: Sequence[Task], *, options: PodOptions) -> dict[str, Any]:
    """The Pod for one task attempt, or for a batch of them (run in the order given)."""
    if not tasks:
        raise ValueError("build_pod needs at least one task")
    first = tasks[0]
    stage = first.stage
    if not stage.image:
        raise no_image(stage.base)
    mounts = _mounts(first.env, options.read_only)
    containers = [_container(i, task, mounts) for i, task in enumerate(tasks)]
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": service_account(first.env.name, first.pipeline, stage),
        "automountServiceAccountToken": stage.automount_service_account_token,
        "securityContext": _pod_security(options),
    }
    if len(containers) > 1:
        spec["initContainers"] = containers[:-1]
    spec["containers"] = containers[-1:]
    spec["volumes"] = _volumes(mounts)
    if stage.timeout:
        spec["activeDeadlineSeconds"] = max(1, math.ceil(stage.timeout * len(tasks)))
    if stage.node_selector:
        spec["nodeSelector"] = dict(sorted(stage.node_selector.items()))
    if stage.tolerations:
        spec["tolerations"] = [dict(t) for t in stage.tolerations]
    dress(spec, first.env.pod, stage.pod)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(tasks),
            "namespace": first.env.namespace or options.namespace,
            "labels": {**first.env.pod.labels, **stage.pod.labels, **labels(tasks)},
            "annotations": {
                **first.env.pod.annotations,
                **stage.pod.annotations,
                **pod_annotations(tasks),
            },
        },
        "spec": spec,
    }


def dress(spec: dict[str, Any], *knobs: PodKnobs) -> None:
    """Add the environment's, then the stage's, pull secrets, priority class, affinity and
    variables from Secrets to a pod `spec` (labels and annotations go on its metadata)."""
    pulls = list(dict.fromkeys(name for knob in knobs for name in knob.pull_secrets))
    if pulls:
        spec["imagePullSecrets"] = [{"name": name} for name in pulls]
    for knob in knobs:
        if knob.priority_class:
            spec["priorityClassName"] = knob.priority_class
        if knob.affinity:
            spec["affinity"] = copy.deepcopy(dict(knob.affinity))
    secrets = {name: ref for knob in knobs for name, ref in knob.secret_env.items()}
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for name in sorted(secrets):
            ref = secrets[name]
            key: dict[str, Any] = {"name": ref.secret, "key": ref.key}
            if ref.optional:
                key["optional"] = True
            container["env"].append({"name": name, "valueFrom": {"secretKeyRef": key}})


def container_name(index: int) -> str:
    """The container of the `index`-th datum of a pod (0 for a pod of one datum)."""
    return f"datum-{index}"


def _container(index: int, task: Task, mounts: Sequence[Mount]) -> dict[str, Any]:
    environ = dict(task.environ)
    environ.setdefault("HOME", "/tmp")  # the root filesystem is read-only
    if task.env.endpoint_url:
        environ.setdefault("KITE_ENDPOINT_URL", task.env.endpoint_url)
    container: dict[str, Any] = {
        "name": container_name(index),
        "image": task.stage.image,
        "command": list(task.argv),
        "env": [{"name": k, "value": environ[k]} for k in sorted(environ)],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": _volume_mounts([*mounts, *_datum_mount(task)]),
    }
    if task.workdir:
        container["workingDir"] = task.workdir
    resources = _resources(task.resources)
    if resources:
        container["resources"] = resources
    return container


def _datum_mount(task: Task) -> list[Mount]:
    """The datum's folder on the volume, mounted at DATUM_FOLDER (none for a task without)."""
    volume = task.env.volume
    if not task.folder or volume is None:
        return []
    sub_path = posixpath.relpath(task.folder, volume.mount)
    return [Mount(volume.claim, DATUM_FOLDER, sub_path=sub_path)]


def _pod_security(options: PodOptions) -> dict[str, Any]:
    context: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": options.run_as_user,
        "runAsGroup": options.run_as_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if options.fs_group is not None:
        context["fsGroup"] = options.fs_group
    return context


def _resources(resources: Resources) -> dict[str, Any]:
    """cpu is a request (limited only by `cpu_limit`: limits throttle); memory, disk and GPUs
    are request = limit."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if resources.cpu:
        requests["cpu"] = resources.cpu
    if resources.cpu_limit:
        limits["cpu"] = resources.cpu_limit
    if resources.memory:
        requests["memory"] = limits["memory"] = resources.memory
    if resources.ephemeral_storage:
        requests["ephemeral-storage"] = limits["ephemeral-storage"] = resources.ephemeral_storage
    if resources.gpu:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(resources.gpu)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _mounts(env: Environment, read_only: Sequence[Mount]) -> list[Mount]:
    own = [Mount(env.volume.claim, env.volume.mount)] if env.volume else []
    extra = sorted(set(read_only), key=lambda m: m.path)
    for mount in extra:
        if any(o.path == mount.path for o in own):
            raise ProjectError(
                f"a read-only root would be mounted at {mount.path}, over the environment's "
                "own volume",
                hint="give each environment its own data path inside the volume",
            )
    return own + extra


def _claim_volumes(mounts: Sequence[Mount]) -> Mapping[str, str]:
    """claim → volume name: the first claim is `data`, the others `data-<n>`."""
    names: dict[str, str] = {}
    for mount in mounts:
        if mount.claim not in names:
            names[mount.claim] = DATA_VOLUME if not names else f"{DATA_VOLUME}-{len(names)}"
    return names


def _volumes(mounts: Sequence[Mount]) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": name, "persistentVolumeClaim": {"claimName": claim}}
        for claim, name in _claim_volumes(mounts).items()
    ]
    volumes.append({"name": TMP_VOLUME, "emptyDir": {}})
    return volumes


def _volume_mounts(mounts: Sequence[Mount]) -> list[dict[str, Any]]:
    names = _claim_volumes(mounts)
    out: list[dict[str, Any]] = []
    for mount in mounts:
        entry: dict[str, Any] = {"name": names[mount.claim], "mountPath": mount.path}
        if mount.sub_path:
            entry["subPath"] = mount.sub_path
        if mount.read_only:
            entry["readOnly"] = True
        out.append(entry)
    out.append({"name": TMP_VOLUME, "mountPath": "/tmp"})
    return out
