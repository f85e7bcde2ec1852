"""The Kubernetes manifests shown in docs/kubernetes.md are valid for the oldest cluster."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from kitecli.executors.podspec import OLDEST_KUBERNETES
from tests.k8s.controlplane.fixtures import KITE_RULES
from tests.test_docs import blocks

DOC = Path(__file__).parents[2] / "docs" / "kubernetes.md"


def test_yaml_in_the_kubernetes_doc_is_valid() -> None:
    manifests = [yaml.safe_load(block) for block in blocks(DOC.read_text(), "yaml")]
    assert [m["kind"] for m in manifests] == ["CronJob", "Role"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, OLDEST_KUBERNETES, strict=True)


def test_the_real_cluster_tests_run_kite_with_exactly_the_role_the_doc_names() -> None:
    [role] = [
        m for m in map(yaml.safe_load, blocks(DOC.read_text(), "yaml")) if m["kind"] == "Role"
    ]
    assert role["rules"] == KITE_RULES
