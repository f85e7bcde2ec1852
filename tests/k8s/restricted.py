"""The Pod Security Standards `restricted` profile (v1.29) as a checker, for tests and the fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
}


def violations(pod: dict[str, Any]) -> list[str]:
    """Every way `pod` breaks the baseline or restricted profile; empty when it passes."""
    spec = pod.get("spec", {})
    return [*_pod_level(spec), *_volume_checks(spec), *_container_checks(spec)]


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(field, [])


def _pod_level(spec: dict[str, Any]) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field} must not be true"
    ctx = spec.get("securityContext", {})
    for sysctl in ctx.get("sysctls", []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl.get('name')} is not allowed"
    if ctx.get("runAsUser") == 0:
        yield "pod runAsUser must not be 0"


def _volume_checks(spec: dict[str, Any]) -> Iterator[str]:
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            yield f"volume {volume.get('name')} has a restricted type: {sorted(kinds)}"


def _container_checks(spec: dict[str, Any]) -> Iterator[str]:
    pod_ctx = spec.get("securityContext", {})
    for container in _containers(spec):
        name = container.get("name")
        ctx = container.get("securityContext", {})
        if ctx.get("privileged"):
            yield f"container {name}: privileged"
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield f"container {name}: allowPrivilegeEscalation must be false"
        if not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")):
            yield f"container {name}: runAsNonRoot must be true"
        if ctx.get("runAsUser") == 0:
            yield f"container {name}: runAsUser must not be 0"
        seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name}: seccompProfile must be RuntimeDefault or Localhost"
        caps = ctx.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            yield f"container {name}: capabilities must drop ALL"
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            yield f"container {name}: only NET_BIND_SERVICE may be added"
        for port in container.get("ports", []):
            if port.get("hostPort"):
                yield f"container {name}: hostPort"
        if ctx.get("procMount", "Default") != "Default":
            yield f"container {name}: procMount must be Default"
