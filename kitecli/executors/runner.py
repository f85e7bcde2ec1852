"""The in-cluster runner of an environment as manifests (pure, golden-tested): its
ServiceAccount, the Role it needs and nothing more, the RoleBinding, and — when the
environment has a `schedule:` — the CronJob that runs `kite apply` in the cluster.
"""

from __future__ import annotations

from typing import Any

from kitecli.errors import ExitCode
from kitecli.executors.k8snames import dns_label, label_value
from kitecli.executors.podspec import DATA_VOLUME, LABEL, MANAGED_BY, TMP_VOLUME, dress
from kitecli.spec.model import Environment, Schedule

Manifest = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
# what `kite apply` does with the cluster (kitecli/executors/preflight.py checks the first
# six); events are read only to say why a pod waits
RUNNER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "get", "list", "watch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]
# kite's permanent failures: a task failed (1), an invalid project (3), a usage error (64)
PERMANENT_EXIT_CODES = [int(ExitCode.FAILED), int(ExitCode.INVALID), int(ExitCode.USAGE)]
CONTAINER = "kite"
UID = 1000


def runner_name(env: str, pipeline: str) -> str:
    """The runner's ServiceAccount, Role and RoleBinding: `kite-runner-<env>-<pipeline>`."""
    return dns_label(f"kite-runner-{env}-{pipeline}")


def cronjob_name(env: str, pipeline: str) -> str:
    """`kite-<env>-<pipeline>`, at most 52 characters (the controller adds 11 to its Jobs)."""
    return dns_label(f"kite-{env}-{pipeline}", limit=52)


def install_labels(pipeline: str, env: str, user: str, component: str) -> dict[str, str]:
    """The labels of everything `kite install` makes; `kite uninstall` selects by them."""
    return {
        **MANAGED_BY,
        LABEL + "pipeline": label_value(pipeline),
        LABEL + "env": label_value(env),
        LABEL + "component": component,
        LABEL + "installed-by": label_value(user),
    }


def selector(pipeline: str, env: str) -> str:
    """The label selector of what install made for `env` of `pipeline`."""
    return ",".join(
        f"{k}={v}"
        for k, v in {
            **MANAGED_BY,
            LABEL + "pipeline": label_value(pipeline),
            LABEL + "env": label_value(env),
        }.items()
    )


def _meta(name: str, namespace: str, labels: dict[str, str], user: str) -> Manifest:
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "annotations": {LABEL + "installed-by": user},
    }


def runner_objects(pipeline: str, env: Environment, *, user: str, namespace: str) -> list[Manifest]:
    """The runner's ServiceAccount, Role and RoleBinding."""
    name = runner_name(env.name, pipeline)
    labels = install_labels(pipeline, env.name, user, "runner")
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, namespace, labels, user),
        "automountServiceAccountToken": False,  # the runner's pod asks for its token itself
    }
    role = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role",
        "metadata": _meta(name, namespace, labels, user),
        "rules": [dict(rule) for rule in RUNNER_RULES],
    }
    binding = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": _meta(name, namespace, labels, user),
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }
    return [account, role, binding]


def apply_argv(env: Environment) -> list[str]:
    """What the scheduled run runs: `kite apply --env E --if-busy …` and the schedule's
    stages and params (`--yes` for a protected environment: installing the schedule is the
    approval)."""
    schedule = env.schedule
    assert schedule is not None
    argv = ["kite", "apply", "--env", env.name, "--if-busy", schedule.if_busy]
    for stage in schedule.stages:
        argv += ["--stage", stage]
    if schedule.downstream:
        argv.append("--downstream")
    for name in sorted(schedule.params):
        argv += ["--param", f"{name}={schedule.params[name]}"]
    if env.protected:
        argv.append("--yes")
    return argv


def image_digest(image: str) -> str | None:
    """The digest an image reference is pinned to (`name@sha256:…`), else None."""
    _, at, digest = image.partition("@")
    return digest if at and ":" in digest else None


def cronjob(pipeline: str, env: Environment, *, user: str, namespace: str) -> Manifest:
    """The CronJob of `env`'s schedule (the environment must have one)."""
    schedule = env.schedule
    assert schedule is not None
    labels = install_labels(pipeline, env.name, user, "schedule")
    meta = _meta(cronjob_name(env.name, pipeline), namespace, labels, user)
    meta["annotations"][LABEL + "image"] = schedule.image
    digest = image_digest(schedule.image)
    if digest:
        meta["annotations"][LABEL + "image-digest"] = digest
    spec: Manifest = {
        "schedule": schedule.cron,
        "timeZone": schedule.timezone,
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": dict(labels)},
            "spec": _job_spec(pipeline, env, schedule, labels, user),
        },
    }
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": spec}


def _job_spec(
    pipeline: str, env: Environment, schedule: Schedule, labels: dict[str, str], user: str
) -> Manifest:
    return {
        "backoffLimit": 2,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": CONTAINER,
                        "operator": "In",
                        "values": list(PERMANENT_EXIT_CODES),
                    },
                },
                {
                    "action": "Ignore",
                    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                },
            ]
        },
        "template": {
            "metadata": _pod_meta(env, labels),
            "spec": _pod_spec(pipeline, env, schedule, user),
        },
    }


def _pod_meta(env: Environment, labels: dict[str, str]) -> Manifest:
    """The runner pod's labels (the environment's `pod_labels`, then kite's), annotations."""
    meta: Manifest = {"labels": {**env.pod.labels, **labels}}
    if env.pod.annotations:
        meta["annotations"] = dict(env.pod.annotations)
    return meta


def _pod_spec(pipeline: str, env: Environment, schedule: Schedule, user: str) -> Manifest:
    container: Manifest = {
        "name": CONTAINER,
        "image": schedule.image,
        "command": apply_argv(env),
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "KITE_USER", "value": user}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            # the project on the volume: kite writes kite.lock and .kite/ there, not in the image
            "readOnlyRootFilesystem": schedule.workdir is not None,
        },
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": "/tmp"}],
    }
    volumes: list[Manifest] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    if env.volume is not None:
        container["volumeMounts"].insert(0, {"name": DATA_VOLUME, "mountPath": env.volume.mount})
        volumes.insert(
            0, {"name": DATA_VOLUME, "persistentVolumeClaim": {"claimName": env.volume.claim}}
        )
    if schedule.workdir:
        container["workingDir"] = schedule.workdir
    spec: Manifest = {
        "serviceAccountName": runner_name(env.name, pipeline),
        "automountServiceAccountToken": True,  # kite talks to the API server as the runner
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    dress(spec, env.pod)  # pull secrets and priority class of the environment
    return spec
