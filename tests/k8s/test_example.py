"""examples/k8s: the pipeline is valid and everything it would send a cluster is too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kitecli.executors import install, podspec
from kitecli.executors.base import Task
from kitecli.spec import loader
from kitecli.spec.model import Pipeline
from tests.k8s.restricted import violations

EXAMPLE = Path(__file__).parents[2] / "examples" / "k8s"


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return loader.load(EXAMPLE / "pipeline.yaml", user="alice")


def valid(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, podspec.OLDEST_KUBERNETES, strict=True)


def test_every_stage_makes_a_valid_restricted_pod(pipeline: Pipeline) -> None:
    env = pipeline.environments["kind"]
    for stage in pipeline.stages.values():
        task = Task(
            run_id="r1",
            pipeline=pipeline.name,
            env=env,
            stage=stage,
            key={"book": "dickens"},
            fingerprint="b3:" + "0" * 64,
            attempt=1,
            argv=stage.command,
            environ={"KITE_ENV": env.name},
            workdir="/",
        )
        pod = podspec.build_pod([task], options=podspec.PodOptions())
        valid(pod)
        assert violations(pod) == []
        assert pod["metadata"]["namespace"] == "kite-demo"
        assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "kite-data"


def test_install_and_cluster_manifests_are_valid(pipeline: Pipeline) -> None:
    env = pipeline.environments["kind"]
    wanted = install.manifests(pipeline, env, user="alice", namespace="kite-demo")
    assert [m["metadata"]["name"] for m in wanted[1:]] == [
        "kite-kind-wordcount-count",
        "kite-demo-reporter",
        "kite-runner-kind-wordcount",  # the runner's ServiceAccount, Role and RoleBinding
        "kite-runner-kind-wordcount",
        "kite-runner-kind-wordcount",
    ]
    for path in sorted((EXAMPLE / "cluster").glob("volume*.yaml")):
        wanted += list(yaml.safe_load_all(path.read_text()))
    for manifest in wanted:
        valid(manifest)
