"""podspec: golden pods, valid for the oldest supported Kubernetes, restricted, well named."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitecli.errors import KiteError, ProjectError
from kitecli.executors import podspec
from kitecli.executors.k8snames import is_dns_label, is_label_value, label_value
from kitecli.spec.model import Environment, Stage, Volume
from tests.executors import golden_pods
from tests.k8s.restricted import violations

UPDATE = os.environ.get("KITE_UPDATE_GOLDEN") == "1"
FIRST_CASE = golden_pods.load(golden_pods.cases()[0])


def _pod(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    case = golden_pods.load(path)
    pod = podspec.build_pod(golden_pods.tasks(case), options=golden_pods.options(case))
    return case, pod


@pytest.mark.parametrize("path", golden_pods.cases(), ids=lambda p: p.stem)
def test_golden_pod(path: Path) -> None:
    case, pod = _pod(path)
    if UPDATE:
        case["expected"] = pod
        path.write_text(golden_pods.dump(case))
    assert pod == case["expected"]


@pytest.mark.parametrize("path", golden_pods.cases(), ids=lambda p: p.stem)
def test_golden_pod_is_valid_for_the_oldest_supported_kubernetes(path: Path) -> None:
    _, pod = _pod(path)
    version = kubernetes_validate.validate(pod, podspec.OLDEST_KUBERNETES, strict=True)
    assert version == podspec.OLDEST_KUBERNETES


@pytest.mark.parametrize("path", golden_pods.cases(), ids=lambda p: p.stem)
def test_golden_pod_passes_the_restricted_profile(path: Path) -> None:
    _, pod = _pod(path)
    assert violations(pod) == []
    assert pod["spec"]["restartPolicy"] == "Never"
    assert len(pod["metadata"]["name"]) <= 63


def test_the_validator_rejects_an_unknown_field() -> None:
    """Strict validation is really on: a typo in a generated pod would be caught."""
    _, pod = _pod(golden_pods.cases()[0])
    pod["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, podspec.OLDEST_KUBERNETES, strict=True)


def test_the_restricted_checker_catches_what_it_should() -> None:
    _, pod = _pod(golden_pods.cases()[0])
    container = pod["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalation"] = True
    container["securityContext"]["capabilities"] = {"add": ["SYS_ADMIN"]}
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    found = violations(pod)
    assert len(found) == 4, found


def test_stage_asking_for_the_token_gets_it() -> None:
    case = golden_pods.load(golden_pods.cases()[0])
    case["input"]["stage"]["automount_service_account_token"] = True
    pod = podspec.build_pod(golden_pods.tasks(case), options=golden_pods.options(case))
    assert pod["spec"]["automountServiceAccountToken"] is True


def test_attempts_and_environments_get_different_pods() -> None:
    case = golden_pods.load(golden_pods.cases()[0])
    tasks = golden_pods.tasks(case)
    first = podspec.pod_name(tasks)
    assert podspec.pod_name(golden_pods.tasks(case)) == first  # stable
    case["input"]["tasks"][0]["attempt"] = 2
    assert podspec.pod_name(golden_pods.tasks(case)) != first
    case["input"]["tasks"][0]["attempt"] = 1
    case["input"]["env"]["name"] = "staging"
    assert podspec.pod_name(golden_pods.tasks(case)) != first


def test_a_stage_without_image_is_refused() -> None:
    case = golden_pods.load(golden_pods.cases()[0])
    case["input"]["stage"].pop("image")
    with pytest.raises(KiteError, match="no image"):
        podspec.build_pod(golden_pods.tasks(case), options=golden_pods.options(case))


def test_an_invalid_identity_is_refused() -> None:
    stage = Stage(name="clean", base="clean", command=("x",), identity="Bad_Name")
    with pytest.raises(KiteError, match="not a valid"):
        podspec.service_account("prod", "weather", stage)


def test_read_only_root_of_an_environment() -> None:
    prod = Environment(
        name="prod", data="/data/prod", metadata="m", cache="c", volume=Volume("shared", "/data")
    )
    assert podspec.read_only_root(prod) == podspec.Mount(
        "shared", "/data/prod", "prod", read_only=True
    )
    outside = Environment(
        name="x", data="/elsewhere", metadata="m", cache="c", volume=Volume("v", "/data")
    )
    with pytest.raises(ProjectError, match="not inside"):
        podspec.read_only_root(outside)
    assert podspec.read_only_root(Environment("s3", "s3://b/p", "m", "c")) is None


@given(st.text(min_size=1, max_size=200))
def test_any_text_becomes_a_valid_label_value(text: str) -> None:
    assert is_label_value(label_value(text))


@given(
    name=st.text(min_size=1, max_size=120),
    fingerprint=st.text(min_size=1, max_size=80),
    attempt=st.integers(min_value=1, max_value=10_000),
)
def test_any_stage_gets_a_valid_pod_name(name: str, fingerprint: str, attempt: int) -> None:
    case = copy.deepcopy(FIRST_CASE)
    case["input"]["stage"]["name"] = name
    case["input"]["tasks"][0].update(fingerprint=fingerprint, attempt=attempt)
    pod_name = podspec.pod_name(golden_pods.tasks(case))
    assert is_dns_label(pod_name), pod_name
    assert pod_name.endswith(f"-{attempt}")


@given(st.text(min_size=1, max_size=120))
def test_default_service_account_is_a_dns_label(stage_name: str) -> None:
    stage = Stage(name=stage_name, base=stage_name, command=("x",))
    assert is_dns_label(podspec.service_account("test-alice", "weather", stage))
