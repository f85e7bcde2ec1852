"""`kite install`'s objects: golden files, valid for the oldest supported Kubernetes, the
runner's pod restricted, the Job failing on kite's permanent exit codes only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kitecli.errors import ExitCode
from kitecli.executors import install, runner
from kitecli.executors.podspec import OLDEST_KUBERNETES
from kitecli.spec import loader
from tests.executors.golden_pods import dump
from tests.k8s.restricted import violations

GOLDEN = Path(__file__).parent.parent / "golden" / "install"
UPDATE = os.environ.get("KITE_UPDATE_GOLDEN") == "1"
CASES = sorted(GOLDEN.glob("*.yaml"))


def objects(path: Path, tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    case = yaml.safe_load(path.read_text())
    (tmp_path / "pipeline.yaml").write_text(case["pipeline"])
    pipeline = loader.load(tmp_path / "pipeline.yaml", user=case["user"])
    env = pipeline.environments[case["env"]]
    made = install.manifests(pipeline, env, user=case["user"], namespace=env.namespace or "")
    return case, made


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_install(path: Path, tmp_path: Path) -> None:
    case, made = objects(path, tmp_path)
    if UPDATE:
        case["expected"] = made
        path.write_text(dump(case))
    assert made == case["expected"]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_object_is_valid_for_the_oldest_supported_kubernetes(
    path: Path, tmp_path: Path
) -> None:
    _, made = objects(path, tmp_path)
    for manifest in made:
        kubernetes_validate.validate(manifest, OLDEST_KUBERNETES, strict=True)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_everything_is_labelled_with_the_environment_and_the_user(
    path: Path, tmp_path: Path
) -> None:
    case, made = objects(path, tmp_path)
    for manifest in made[1:]:  # the namespace may be shared by environments
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "kite"
        assert labels["kite.dev/env"] == case["env"]
        assert labels["kite.dev/installed-by"] == case["user"]


def test_the_scheduled_environment_gets_exactly_these_objects(tmp_path: Path) -> None:
    _, made = objects(GOLDEN / "scheduled.yaml", tmp_path)
    assert [(m["kind"], m["metadata"]["name"]) for m in made] == [
        ("Namespace", "kite-prod"),
        ("ServiceAccount", "kite-prod-weather-clean"),
        ("ServiceAccount", "kite-prod-weather-monthly"),
        ("ServiceAccount", "kite-runner-prod-weather"),
        ("Role", "kite-runner-prod-weather"),
        ("RoleBinding", "kite-runner-prod-weather"),
        ("CronJob", "kite-prod-weather"),
    ]


def test_the_runners_pod_passes_the_restricted_profile(tmp_path: Path) -> None:
    for path in (GOLDEN / "scheduled.yaml", GOLDEN / "image-workdir.yaml"):
        _, made = objects(path, tmp_path)
        [job] = [m for m in made if m["kind"] == "CronJob"]
        pod = {"spec": job["spec"]["jobTemplate"]["spec"]["template"]["spec"]}
        assert violations(pod) == []


def test_the_job_fails_at_once_on_kites_permanent_exit_codes_only(tmp_path: Path) -> None:
    _, made = objects(GOLDEN / "scheduled.yaml", tmp_path)
    [job] = [m for m in made if m["kind"] == "CronJob"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    rules = job["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["onExitCodes"]["values"] == [ExitCode.FAILED, ExitCode.INVALID, ExitCode.USAGE]
    retried = {ExitCode.UNREACHABLE, ExitCode.BUSY, ExitCode.INTERRUPTED}
    assert not retried & set(rules[0]["onExitCodes"]["values"])
    assert rules[1] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }


def test_the_runners_role_is_namespaced_and_small() -> None:
    verbs = {
        (r, v) for rule in runner.RUNNER_RULES for r in rule["resources"] for v in rule["verbs"]
    }
    assert verbs == {
        ("pods", "create"),
        ("pods", "get"),
        ("pods", "list"),
        ("pods", "watch"),
        ("pods", "delete"),
        ("pods/log", "get"),
        ("events", "list"),
    }


def test_an_image_not_pinned_by_digest_is_warned_about(tmp_path: Path) -> None:
    case = yaml.safe_load((GOLDEN / "image-workdir.yaml").read_text())
    (tmp_path / "pipeline.yaml").write_text(case["pipeline"])
    pipeline = loader.load(tmp_path / "pipeline.yaml", user="carol")
    [warning] = install.warnings(pipeline, pipeline.environments["nightly"])
    assert "not pinned by digest" in warning
    assert runner.image_digest("a/b@sha256:00ff") == "sha256:00ff"
    assert runner.image_digest("a/b:1") is None


def test_stages_without_resources_are_warned_about(tmp_path: Path) -> None:
    case = yaml.safe_load((GOLDEN / "unscheduled.yaml").read_text())
    text = case["pipeline"].replace(', resources: {cpu: "1", memory: 512Mi}', "")
    (tmp_path / "pipeline.yaml").write_text(text)
    pipeline = loader.load(tmp_path / "pipeline.yaml", user="bob")
    [warning] = install.warnings(pipeline, pipeline.environments["cluster"])
    assert "no `resources:` on stages split, count" in warning


def test_a_claim_that_is_not_read_write_many_is_warned_about(tmp_path: Path) -> None:
    case = yaml.safe_load((GOLDEN / "scheduled.yaml").read_text())
    (tmp_path / "pipeline.yaml").write_text(case["pipeline"])
    env = loader.load(tmp_path / "pipeline.yaml", user="alice").environments["prod"]
    once = {"spec": {"accessModes": ["ReadWriteOnce"]}}
    [warning] = install.claim_warnings(env, once)
    assert "ReadWriteOnce, not ReadWriteMany" in warning
    assert install.claim_warnings(env, {"spec": {"accessModes": ["ReadWriteMany"]}}) == []
    assert "does not exist" in install.claim_warnings(env, None)[0]


KNOBS = """\
kite: 1
name: knobs
environments:
  cluster:
    executor: kubernetes
    data: /data/prod
    volume: {claim: kite-data, mount: /data}
    pod_labels: {azure.workload.identity/use: true}
defaults:
  image: python:3.12-slim
  image_pull_secrets: [registry]
  resources: {cpu: 500m, cpu_limit: 2, memory: 1Gi}
stages:
  clean:
    command: [echo]
    outputs: {o: o/}
    pod_labels: {team: clean}
    pod_annotations: {example.com/owner: data}
    priority_class: batch-high
    affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: []}}
    secret_env: {DB_PASSWORD: {secret: db, key: password}}
"""


def test_pod_knobs_are_read_from_the_environment_defaults_and_stage(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text(KNOBS)
    pipeline = loader.load(tmp_path / "pipeline.yaml", user="x")
    env = pipeline.environments["cluster"]
    assert env.pod.labels == {"azure.workload.identity/use": "true"}
    stage = pipeline.stages["clean"]
    assert stage.pod.labels == {"team": "clean"}
    assert stage.pod.annotations == {"example.com/owner": "data"}
    assert stage.pod.pull_secrets == ("registry",)
    assert stage.pod.priority_class == "batch-high"
    assert stage.pod.secret_env["DB_PASSWORD"].key == "password"
    assert stage.resources.cpu_limit == "2"


def test_batch_has_a_maximum(tmp_path: Path) -> None:
    from kitecli.errors import KiteError

    (tmp_path / "pipeline.yaml").write_text(
        KNOBS.replace("    command: [echo]\n", "    command: [echo]\n    batch: 500\n")
    )
    with pytest.raises(KiteError) as caught:
        loader.load(tmp_path / "pipeline.yaml", user="x")
    assert "500" in str(caught.value.message) + str(getattr(caught.value, "diagnostics", ""))
