"""The end-to-end project of tests/e2e.py, with a second environment that runs on Kubernetes.

Both environments share one pipeline.yaml (so fingerprints are the same); `dev` runs its
stages as local processes, `kube` as pods on the fake cluster, whose volume holds the project.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

from tests.e2e import DAYS, PIPELINE, STEP
from tests.helpers import write
from tests.k8s.fixtures import CLAIM, NAMESPACE, FakeCluster

ENVIRONMENTS = """\
environments:
  dev: {{data: ./data-dev, metadata: ./meta-dev, cache: ./cache}}
  kube:
    executor: kubernetes
    namespace: {namespace}
    volume: {{claim: {claim}, mount: "{mount}"}}
    data: ./data-kube
    metadata: ./meta-kube
    cache: ./cache
defaults:
  image: python:3.12-slim
"""


class HasVolume(Protocol):
    volume: Path  # the folder that is the claim CLAIM, mounted at the same path


def make_cluster_project(
    cluster: FakeCluster | HasVolume,
    *,
    batch: int = 1,
    env: dict[str, str] | None = None,
    defaults: str = "",
    namespace: str = NAMESPACE,
) -> Path:
    """Write the project under the cluster's volume; returns its folder."""
    root = cluster.volume / "project"
    environ = {"CALLS_LOG": str(root / "calls.log"), **(env or {})}
    stage_env = "    env: {" + ", ".join(f'{k}: "{v}"' for k, v in environ.items()) + "}\n"
    text = PIPELINE.format(python=sys.executable)
    head, stages = text.split("environments:\n", 1)
    stages = stages.split("stages:\n", 1)[1]
    extra = stage_env + (f"    batch: {batch}\n" if batch > 1 else "")
    text = (
        head
        + ENVIRONMENTS.format(namespace=namespace, claim=CLAIM, mount=cluster.volume)
        + defaults
        + "stages:\n"
        + stages.replace("    code: [step.py]\n", "    code: [step.py]\n" + extra)
    )
    write(root, {"pipeline.yaml": text, "step.py": STEP})
    for data in ("data-dev", "data-kube"):
        for day in DAYS:
            write(root, {f"{data}/raw/{day}.csv": f"day,{day}\n"})
    return root


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path → text)."""
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
