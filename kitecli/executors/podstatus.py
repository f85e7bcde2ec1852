"""Pod status (plain dicts from the API) → per-datum Outcomes, reasons in plain words. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kitecli.executors.base import Outcome, Task
from kitecli.executors.podspec import container_name

Pod = Mapping[str, Any]
TERMINAL = ("Succeeded", "Failed")
PULL_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
CONFIG_ERRORS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")
_PERMANENT_PULL = re.compile(r"not found|manifest unknown|unauthorized|denied|invalid", re.I)
_BACK_OFF_ONLY = re.compile(r'^back-off pulling image "[^"]*"\.?$', re.I)


@dataclass(frozen=True)
class Stuck:
    """A pod that cannot start by itself: why, in plain words, and whether retrying may help."""

    reason: str  # "image-pull" | "container-config"
    detail: str
    retryable: bool
    at_once: bool  # give up now rather than after the grace period
    known: bool = True  # False: a pull back-off whose cause is not known yet (see events)


@dataclass(frozen=True)
class Ending:
    """How kite saw the pod end, beyond the pod's own status."""

    kite_reason: str | None = None  # "cancelled" | "timeout" | "lost" | a Stuck reason
    detail: str = ""
    retryable: bool = True
    submitted: float = 0.0
    now: float = 0.0


def is_terminal(pod: Pod) -> bool:
    return pod.get("status", {}).get("phase") in TERMINAL


def statuses(pod: Pod) -> list[Mapping[str, Any]]:
    """Container statuses in run order: init containers, then the main one."""
    status = pod.get("status", {})
    return [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]


def stuck(pod: Pod, causes: Mapping[str, str] | None = None) -> Stuck | None:
    """An image that does not pull or a container that cannot be created, if any.

    `causes`: the last pull error seen per container. Before Kubernetes 1.32 the back-off
    message names no cause (`Back-off pulling image "x"`); the pull error before it, or the
    pod's events, do.
    """
    for entry in statuses(pod):
        waiting = entry.get("state", {}).get("waiting") or {}
        reason, message = waiting.get("reason", ""), waiting.get("message", "")
        if reason in PULL_ERRORS:
            if not has_cause(message):
                message = (causes or {}).get(entry.get("name", ""), message)
            permanent = reason == "InvalidImageName" or bool(_PERMANENT_PULL.search(message))
            detail = f"the image {entry.get('image', '')!r} cannot be pulled ({reason}: {message})"
            return Stuck("image-pull", detail, not permanent, permanent, has_cause(message))
        if reason in CONFIG_ERRORS:
            detail = f"the container cannot be created ({reason}: {message})"
            return Stuck("container-config", detail, False, False)
    return None


def has_cause(message: str) -> bool:
    """False for a pull back-off message that only says it backs off."""
    return bool(message) and not _BACK_OFF_ONLY.match(message.strip())


def pull_errors(pod: Pod) -> dict[str, str]:
    """Container name → the pull error its status shows now (ErrImagePull and its kin)."""
    found = {}
    for entry in statuses(pod):
        waiting = entry.get("state", {}).get("waiting") or {}
        if waiting.get("reason") in PULL_ERRORS and has_cause(waiting.get("message", "")):
            found[entry.get("name", "")] = waiting["message"]
    return found


def started_at(pod: Pod) -> float | None:
    """When the pod's first command started, if one has."""
    times = []
    for entry in statuses(pod):
        state = entry.get("state", {})
        began = (state.get("running") or state.get("terminated") or {}).get("startedAt")
        if began:
            times.append(_time(began) or 0.0)
    return min(times) if times else None


def unscheduled(pod: Pod) -> str | None:
    """The scheduler's message while the pod is not bound (PodScheduled=False), if any."""
    for condition in pod.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return str(condition.get("message") or condition.get("reason") or "not scheduled")
    return None


def waiting_reason(pod: Pod) -> str:
    """What the pod's first waiting container waits for (ContainerCreating...), or its phase."""
    for entry in statuses(pod):
        waiting = entry.get("state", {}).get("waiting")
        if waiting:
            return str(waiting.get("reason") or "waiting")
    return str(pod.get("status", {}).get("phase") or "Pending")


def deletion_deadline(pod: Pod) -> float | None:
    """When a pod marked for deletion should be gone (its deletionTimestamp), if marked."""
    return _time(pod.get("metadata", {}).get("deletionTimestamp"))


def outcomes(
    pod: Pod | None, tasks: Sequence[Task], logs: Sequence[bytes], ending: Ending
) -> list[Outcome]:
    """One Outcome per task of the pod, in order; after a failed datum the rest did not run."""
    found = {e.get("name"): e for e in statuses(pod)} if pod else {}
    status = (pod or {}).get("status", {})
    where = (pod or {}).get("metadata", {}).get("name", "")
    node = (pod or {}).get("spec", {}).get("nodeName", "") or ""
    out: list[Outcome] = []
    for index, task in enumerate(tasks):
        entry = found.get(container_name(index), {})
        exit_code, reason, detail, retryable = _verdict(entry, status, task, ending)
        if any(not o.ok for o in out):
            exit_code, reason = None, "not-run"
            detail, retryable = (
                "an earlier datum of its batch failed; it will be planned again",
                True,
            )
        state = entry.get("state", {})
        times = state.get("terminated") or state.get("running") or {}
        log = logs[index] if index < len(logs) else b""
        if detail:
            log += f"\n[kite] {detail}\n".encode()
        out.append(
            Outcome(
                exit_code=exit_code,
                started=_time(times.get("startedAt")) or ending.submitted,
                ended=_time(times.get("finishedAt")) or ending.now,
                log=log,
                reason=reason,
                retryable=retryable,
                where=where,
                node=node,
                image_digest=_digest(entry.get("imageID", "")),
                detail=detail,
            )
        )
    return out


def _verdict(
    entry: Mapping[str, Any], status: Mapping[str, Any], task: Task, ending: Ending
) -> tuple[int | None, str | None, str, bool]:
    """(exit code, reason, detail, retryable) of one container."""
    terminated = entry.get("state", {}).get("terminated")
    if terminated and terminated.get("reason") == "OOMKilled":
        memory = task.resources.memory
        limit = f" ({memory})" if memory else ""
        detail = (
            f"out of memory: the container used more than its memory limit{limit} and was "
            "killed; raise `resources.memory`"
        )
        return None, "OOMKilled", detail, "memory" in task.stage.resources.on_retry
    code = int(terminated.get("exitCode", 1)) if terminated else None
    stopped = ending.kite_reason or status.get("reason") in ("Evicted", "DeadlineExceeded")
    if code == 0 or (code is not None and not stopped):
        return code, None, "", True
    if ending.kite_reason:
        return None, ending.kite_reason, ending.detail, ending.retryable
    pod_reason = status.get("reason")
    if pod_reason == "Evicted":
        detail = f"the node evicted the pod: {status.get('message', 'no message')}"
        return None, "Evicted", detail, True
    if pod_reason == "DeadlineExceeded":
        detail = f"the pod ran longer than the stage's timeout ({_seconds(task)}) and was stopped"
        return None, "timeout", detail, True
    if pod_reason:
        return None, pod_reason, f"the pod failed: {status.get('message', pod_reason)}", True
    return None, "not-run", "the container never ran", True


def _seconds(task: Task) -> str:
    return f"{task.stage.timeout:g}s" if task.stage.timeout else "no limit"


def _time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _digest(image_id: str) -> str | None:
    """The image reference with the digest the kubelet resolved (runtime prefixes removed)."""
    for prefix in ("docker-pullable://", "docker://"):
        image_id = image_id.removeprefix(prefix)
    return image_id or None
