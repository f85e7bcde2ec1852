"""The Kubernetes manifests shown in docs/kubernetes.md are valid for the oldest cluster,
pass the restricted profile, and name the rights the runner and the real-cluster tests get."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from kitecli.executors.podspec import OLDEST_KUBERNETES
from kitecli.executors.runner import PERMANENT_EXIT_CODES, RUNNER_RULES
from tests.k8s.controlplane.fixtures import KITE_RULES
from tests.k8s.restricted import violations
from tests.test_docs import blocks

DOC = Path(__file__).parents[2] / "docs" / "kubernetes.md"


def manifests() -> list[dict]:  # type: ignore[type-arg]
    return [yaml.safe_load(block) for block in blocks(DOC.read_text(), "yaml")]


def test_yaml_in_the_kubernetes_doc_is_valid() -> None:
    found = manifests()
    assert [m["kind"] for m in found] == ["CronJob", "Role"]
    for manifest in found:
        kubernetes_validate.validate(manifest, OLDEST_KUBERNETES, strict=True)


def test_the_docs_cronjob_passes_the_restricted_profile_and_fails_like_kites() -> None:
    [job] = [m for m in manifests() if m["kind"] == "CronJob"]
    spec = job["spec"]["jobTemplate"]["spec"]
    assert violations({"spec": spec["template"]["spec"]}) == []
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == PERMANENT_EXIT_CODES


def test_the_real_cluster_tests_run_kite_with_exactly_the_role_the_doc_names() -> None:
    [role] = [m for m in manifests() if m["kind"] == "Role"]
    assert role["rules"] == KITE_RULES
    assert role["rules"] == RUNNER_RULES  # and `kite install` gives the runner just that
