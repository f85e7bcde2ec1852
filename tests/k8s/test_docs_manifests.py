"""The Kubernetes manifests shown in docs/kubernetes.md are valid for the oldest cluster."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from kitecli.executors.podspec import OLDEST_KUBERNETES
from tests.test_docs import blocks

DOC = Path(__file__).parents[2] / "docs" / "kubernetes.md"


def test_yaml_in_the_kubernetes_doc_is_valid() -> None:
    manifests = [yaml.safe_load(block) for block in blocks(DOC.read_text(), "yaml")]
    assert [m["kind"] for m in manifests] == ["CronJob"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, OLDEST_KUBERNETES, strict=True)
