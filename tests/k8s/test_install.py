"""`kite install`: namespace and per-stage service accounts, idempotent, dry-run as YAML."""

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
    ]
    assert docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    fetch = docs[1]
    assert fetch["metadata"]["labels"]["kite.dev/installed-by"] == "bob"
    assert fetch["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == "bob@example.iam"
    assert fetch["automountServiceAccountToken"] is False


def test_install_creates_then_changes_nothing(project: Path, cluster: FakeCluster) -> None:
    args = ("install", "--env", "cluster", "--kubeconfig", str(cluster.kubeconfig))
    code, text = kite(project, *args)
    assert code == 0, text
    assert "Namespace/kite-weather: created" in text
    assert "ServiceAccount/trainer: created" in text
    account = cluster.server.store.get("serviceaccounts", "kite-weather", "trainer")
    assert account["metadata"]["labels"]["kite.dev/installed-by"] == "alice"
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == (
        "alice@example.iam"
    )
    posts = len([r for r in cluster.server.requests if r[0] in ("POST", "PUT")])
    code, text = kite(project, *args)
    assert code == 0
    assert text.count(": unchanged") == 3
    assert len([r for r in cluster.server.requests if r[0] in ("POST", "PUT")]) == posts


def test_install_updates_annotations_of_its_own_accounts_only(
    project: Path, cluster: FakeCluster
) -> None:
    cluster.server.add_namespace("kite-weather")
    cluster.server.add_service_account("kite-weather", "trainer")  # someone else's
    args = ("install", "--env", "cluster", "--kubeconfig", str(cluster.kubeconfig))
    assert kite(project, *args)[0] == 0
    write_pipeline(project, account="robot@example.iam")
    code, text = kite(project, *args)
    assert code == 0, text
    assert "ServiceAccount/kite-cluster-weather-fetch: updated" in text
    assert "ServiceAccount/trainer: unchanged (exists, not made by kite: left alone)" in text
    fetch = cluster.server.store.get(
        "serviceaccounts", "kite-weather", "kite-cluster-weather-fetch"
    )
    assert fetch["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == "robot@example.iam"
    trainer = cluster.server.store.get("serviceaccounts", "kite-weather", "trainer")
    assert "annotations" not in trainer["metadata"]


def test_a_namespace_kite_may_not_see_is_left_to_the_admin(
    project: Path, cluster: FakeCluster
) -> None:
    cluster.server.add_namespace("kite-weather")
    cluster.server.faults.fail(1, code=403, method="GET")
    args = ("install", "--env", "cluster", "--kubeconfig", str(cluster.kubeconfig))
    code, text = kite(project, *args)
    assert code == 0, text
    assert "Namespace/kite-weather: skipped (not allowed here" in text
    assert "ServiceAccount/kite-cluster-weather-fetch: created" in text


def test_an_unreachable_cluster_exits_4(project: Path) -> None:
    missing = project / "no-such-kubeconfig"
    code, text = kite(project, "install", "--env", "cluster", "--kubeconfig", str(missing))
    assert code == 4
    assert "hint:" in text


def test_an_environment_without_kubernetes_stages(project: Path) -> None:
    code, text = kite(project, "install", "--env", "laptop", "--dry-run")
    assert code == 3
    assert "no stage runs on Kubernetes" in text
