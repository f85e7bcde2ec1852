"""What the fake API server checks before it stores a pod: schema, semantics, admission."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import kubernetes_validate

from tests.k8s.fake_store import ApiError
from tests.k8s.restricted import violations

SERVER_VERSION = "1.29"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(text: str) -> float | None:
    match = _QUANTITY.match(str(text))
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return None


def validate_pod(pod: dict[str, Any], *, namespace_labels: dict[str, str]) -> None:
    """Raise ApiError 422 (Invalid) or 403 (PodSecurity) as a real API server would."""
    name = pod.get("metadata", {}).get("name", "")
    try:
        kubernetes_validate.validate(pod, SERVER_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.caused_by.absolute_path)
        raise ApiError(
            422, "Invalid", f'Pod "{name}" is invalid: {path}: {exc.caused_by.message}'
        ) from None
    causes = list(_semantic(pod))
    if causes:
        text = ", ".join(f"{field}: {message}" for field, message in causes)
        raise ApiError(
            422,
            "Invalid",
            f'Pod "{name}" is invalid: {text}',
            name=name,
            kind="Pod",
            causes=[{"field": f, "message": m, "reason": "FieldValueInvalid"} for f, m in causes],
        )
    level = namespace_labels.get("pod-security.kubernetes.io/enforce")
    found = violations(pod) if level == "restricted" else []
    if found:
        raise ApiError(
            403,
            "Forbidden",
            f'pods "{name}" is forbidden: violates PodSecurity "restricted:latest": '
            + "; ".join(found),
        )


def _semantic(pod: dict[str, Any]) -> Iterator[tuple[str, str]]:
    meta = pod["metadata"]
    name = meta.get("name", "")
    if not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        yield "metadata.name", f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain"
    for key, value in meta.get("labels", {}).items():
        label_name = key.rsplit("/", 1)[-1]
        if not _LABEL_NAME.match(label_name) or len(label_name) > 63:
            yield f"metadata.labels[{key}]", "Invalid value: not a valid label key"
        if not _LABEL_VALUE.match(value) or len(value) > 63:
            yield f"metadata.labels[{key}]", f"Invalid value: {value!r}: not a valid label value"
    spec = pod["spec"]
    yield from _containers(spec)
    if spec.get("restartPolicy", "Always") not in ("Always", "OnFailure", "Never"):
        yield "spec.restartPolicy", "Unsupported value"
    if spec.get("activeDeadlineSeconds", 1) < 1:
        yield "spec.activeDeadlineSeconds", "must be greater than or equal to 1"
    sa = spec.get("serviceAccountName", "default")
    if not _DNS_SUBDOMAIN.match(sa):
        yield "spec.serviceAccountName", f"Invalid value: {sa!r}"


def _containers(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    volumes = {v["name"] for v in spec.get("volumes", [])}
    seen: set[str] = set()
    if not spec.get("containers"):
        yield "spec.containers", "Required value"
    for field in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(field, [])):
            at = f"spec.{field}[{i}]"
            cname = container.get("name", "")
            if not _DNS_LABEL.match(cname) or cname in seen:
                yield f"{at}.name", f"Invalid value: {cname!r} (must be a unique DNS label)"
            seen.add(cname)
            if not container.get("image"):
                yield f"{at}.image", "Required value"
            for env in container.get("env", []):
                if not _ENV_NAME.match(env["name"]):
                    yield f"{at}.env[{env['name']}]", "Invalid value: not a valid variable name"
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    yield f"{at}.volumeMounts.name", f"Not found: {mount['name']!r}"
            yield from _resources(at, container.get("resources", {}))


def _resources(at: str, resources: dict[str, Any]) -> Iterator[tuple[str, str]]:
    requests = resources.get("requests", {})
    limits = resources.get("limits", {})
    for kind, values in (("requests", requests), ("limits", limits)):
        for resource, value in values.items():
            if quantity(value) is None:
                yield f"{at}.resources.{kind}[{resource}]", f"Invalid value: {value!r}"
    for resource, limit in limits.items():
        want, cap = quantity(requests.get(resource, limit)), quantity(limit)
        if want is not None and cap is not None and want > cap:
            yield (
                f"{at}.resources.requests",
                f"Invalid value: must be less than or equal to {resource} limit",
            )
