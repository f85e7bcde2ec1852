"""`kite install` without a cluster: the dry run's YAML and the errors before any call.

Installing on a cluster is tested against the real API server
(tests/k8s/test_install_on_real_apiserver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import helpers
from tests.k8s.fixtures import FakeCluster, fake_cluster

PIPELINE = """\
kite: 1
name: weather
environments:
  cluster:
    executor: kubernetes
    namespace: {namespace}
    data: /data/prod
    volume: {{claim: kite-data, mount: /data}}
    service_account_annotations: {{iam.gke.io/gcp-service-account: "{account}"}}
  laptop: {{data: ./data}}
defaults: {{image: "python:3.12-slim"}}
stages:
  fetch:
    datums: {{day: [a, b]}}
    command: [echo, "{{{{ datum.day }}}}", "{{{{ outputs.raw }}}}"]
    outputs: {{raw: raw/}}
  train:
    matrix: {{alpha: [1, 2]}}
    inputs: {{raw: raw/}}
    identity: trainer
    command: [echo, "{{{{ inputs.raw }}}}", "{{{{ outputs.model }}}}"]
    outputs: {{model: "models/{{{{ matrix.alpha }}}}/"}}
  local-only:
    executor: local
    inputs: {{raw: raw/}}
    command: [echo]
    outputs: {{x: x/}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    write_pipeline(root, account="{user}@example.iam")
    monkeypatch.chdir(root)
    monkeypatch.setenv("KITE_USER", "alice")
    return root


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    with fake_cluster(tmp_path / "cluster") as running:
        yield running


def write_pipeline(root: Path, *, account: str, namespace: str = "kite-weather") -> None:
    (root / "pipeline.yaml").write_text(PIPELINE.format(account=account, namespace=namespace))


def kite(project: Path, *args: str) -> tuple[int, str]:
    """`kite ARGS` in the project: its exit code and everything it printed."""
    done = helpers.kite(*args, cwd=project)
    return done.code, done.stdout + done.stderr


def test_dry_run_prints_the_manifests(project: Path, run_kite) -> None:  # type: ignore[no-untyped-def]
    result = run_kite(
        "install", "--env", "cluster", "--dry-run", cwd=project, env={"KITE_USER": "bob"}
    )
    assert result.code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", "kite-weather"),
        ("ServiceAccount", "kite-cluster-weather-fetch"),
        ("ServiceAccount", "trainer"),
        ("ServiceAccount", "kite-runner-cluster-weather"),
        ("Role", "kite-runner-cluster-weather"),
        ("RoleBinding", "kite-runner-cluster-weather"),
    ]  # no schedule: no CronJob
    assert docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    fetch = docs[1]
    assert fetch["metadata"]["labels"]["kite.dev/installed-by"] == "bob"
    assert fetch["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == "bob@example.iam"
    assert fetch["automountServiceAccountToken"] is False
    assert "no `resources:` on stages fetch, train" in result.stderr


def test_an_unreachable_cluster_exits_4(project: Path) -> None:
    missing = project / "no-such-kubeconfig"
    code, text = kite(project, "install", "--env", "cluster", "--kubeconfig", str(missing))
    assert code == 4
    assert "hint:" in text


def test_an_environment_without_kubernetes_stages(project: Path) -> None:
    code, text = kite(project, "install", "--env", "laptop", "--dry-run")
    assert code == 3
    assert "no stage runs on Kubernetes" in text
