"""`kite install`, the runner's rights and `kite uninstall` against a real kube-apiserver.

An administrator installs; the runner's ServiceAccount then runs a whole `kite apply` with
a token the API server issued for it (TokenRequest), and is refused what its Role does not
give. The CronJob's Job runs kite as a pod on the node agent: the agent mounts no
service-account token, so the test gives that pod the runner's token in a kubeconfig, and
runs kite from this checkout (there is no image to pull).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import DAYS
from tests.helpers import Result, kite
from tests.k8s.controlplane.fixtures import RealCluster, prepare
from tests.k8s.fixtures import CLAIM
from tests.k8s.project import make_cluster_project, tree

SCHEDULE = '    schedule: {{cron: "0 3 * * *", image: "kite-runner:test", workdir: "{root}"}}\n'


class Space:
    def __init__(self, cluster: RealCluster, namespace: str, volume: Path) -> None:
        self.cluster, self.namespace, self.volume = cluster, namespace, volume

    def kite(self, root: Path, *args: str, config: Path | None = None) -> Result:
        """`kite ARGS` as the administrator (or with the kubeconfig `config`)."""
        return kite(*args, cwd=root, env={"KUBECONFIG": str(config or self.cluster.plane.admin)})

    def api(self, name: str, config: Path | None = None) -> Any:
        from kubernetes import client
        from kubernetes import config as kubeconfig

        path = str(config or self.cluster.plane.admin)
        return getattr(client, name)(kubeconfig.new_client_from_config(path))

    def labelled(self) -> set[tuple[str, str]]:
        """(kind, name) of every object labelled as kite's in the namespace."""
        core, rbac, batch = (
            self.api("CoreV1Api"),
            self.api("RbacAuthorizationV1Api"),
            self.api("BatchV1Api"),
        )
        found: set[tuple[str, str]] = set()
        selector = "app.kubernetes.io/managed-by=kite"
        calls = {
            "ServiceAccount": core.list_namespaced_service_account,
            "Role": rbac.list_namespaced_role,
            "RoleBinding": rbac.list_namespaced_role_binding,
            "CronJob": batch.list_namespaced_cron_job,
            "Job": batch.list_namespaced_job,
        }
        for kind, call in calls.items():
            for item in call(self.namespace, label_selector=selector).items:
                found.add((kind, item.metadata.name))
        for api in (core, rbac, batch):
            api.api_client.close()
        return found

    def token_config(self, account: str, path: Path) -> Path:
        """A kubeconfig holding a token the API server issued for `account`."""
        core = self.api("CoreV1Api")
        try:
            issued = core.create_namespaced_service_account_token(
                account, self.namespace, {"spec": {"expirationSeconds": 3600}}
            )
        finally:
            core.api_client.close()
        plane = self.cluster.plane
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": plane.server,
                        "certificate-authority": str(plane.ca.path),
                    },
                }
            ],
            "users": [{"name": account, "user": {"token": issued.status.token}}],
            "contexts": [
                {
                    "name": "test",
                    "context": {"cluster": "test", "user": account, "namespace": self.namespace},
                }
            ],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(config))
        return path


@pytest.fixture
def space(real_cluster: RealCluster, tmp_path: Path) -> Space:
    namespace = "kite-" + uuid.uuid4().hex[:8]
    prepare(real_cluster, namespace, tmp_path / "volume", [], CLAIM)
    return Space(real_cluster, namespace, tmp_path / "volume")


def scheduled_project(space: Space) -> Path:
    root = make_cluster_project(space, namespace=space.namespace)
    text = (root / "pipeline.yaml").read_text()
    head, tail = text.split("\ndefaults:\n", 1)
    (root / "pipeline.yaml").write_text(
        head + "\n" + SCHEDULE.format(root=root) + "defaults:\n" + tail
    )
    return root


def dry_run(space: Space, root: Path) -> list[dict[str, Any]]:
    printed = space.kite(root, "install", "--env", "kube", "--dry-run")
    assert printed.code == 0, printed.stderr
    return list(yaml.safe_load_all(printed.stdout))


def test_install_creates_exactly_the_listed_objects_then_changes_nothing(space: Space) -> None:
    root = scheduled_project(space)
    listed = {(d["kind"], d["metadata"]["name"]) for d in dry_run(space, root)}
    installed = space.kite(root, "install", "--env", "kube")
    assert installed.code == 0, installed.stderr
    assert installed.stdout.count(": created") == len(listed) - 1, installed.stdout
    assert f"Namespace/{space.namespace}: unchanged" in installed.stdout
    assert "ReadWriteOnce, not ReadWriteMany" in installed.stderr  # the test's claim is RWO
    assert space.labelled() == listed - {("Namespace", space.namespace)}
    again = space.kite(root, "install", "--env", "kube")
    assert again.code == 0, again.stderr
    assert "created" not in again.stdout, again.stdout
    assert "updated" not in again.stdout, again.stdout
    assert space.labelled() == listed - {("Namespace", space.namespace)}
    batch = space.api("BatchV1Api")
    try:
        [job] = batch.list_namespaced_cron_job(space.namespace).items
        assert job.spec.concurrency_policy == "Forbid"
        assert job.spec.time_zone == "UTC"
    finally:
        batch.api_client.close()
    limited = space.kite(root, "status", "--env", "kube", config=space.cluster.plane.kite)
    assert limited.code == 0, limited.stderr  # the user kite may not read CronJobs: said
    assert "cluster      CronJob kite-kube-e2e: the Kubernetes API refused" in limited.stdout


def test_a_changed_schedule_updates_the_cronjob_and_leaves_others_alone(space: Space) -> None:
    root = scheduled_project(space)
    core = space.api("CoreV1Api")
    account = "kite-runner-kube-e2e"
    try:  # someone else's account of the name install wants for the runner: left alone
        core.create_namespaced_service_account(space.namespace, {"metadata": {"name": account}})
    finally:
        core.api_client.close()
    assert space.kite(root, "install", "--env", "kube").code == 0
    text = (root / "pipeline.yaml").read_text().replace("0 3 * * *", "30 4 * * 1-5")
    (root / "pipeline.yaml").write_text(text)
    changed = space.kite(root, "install", "--env", "kube")
    assert changed.code == 0, changed.stderr
    assert "CronJob/kite-kube-e2e: updated" in changed.stdout, changed.stdout
    assert f"ServiceAccount/{account}: unchanged (exists, not made by kite" in changed.stdout
    batch = space.api("BatchV1Api")
    try:
        job = batch.read_namespaced_cron_job("kite-kube-e2e", space.namespace)
        assert job.spec.schedule == "30 4 * * 1-5"
    finally:
        batch.api_client.close()


def test_the_runners_rights_are_enough_for_an_apply_and_no_more(
    space: Space, tmp_path: Path
) -> None:
    from kubernetes.client import ApiException

    root = make_cluster_project(space, namespace=space.namespace)
    assert space.kite(root, "install", "--env", "kube").code == 0
    runner = space.token_config("kite-runner-kube-e2e", tmp_path / "runner.kubeconfig")
    applied = space.kite(root, "apply", "--env", "kube", config=runner)
    assert applied.code == 0, applied.stderr
    assert sorted(tree(root / "data-kube")) != []
    core = space.api("CoreV1Api", runner)
    rbac = space.api("RbacAuthorizationV1Api", runner)
    try:
        refused = [
            lambda: core.list_namespaced_secret(space.namespace),
            lambda: core.create_namespaced_service_account(
                space.namespace, {"metadata": {"name": "more"}}
            ),
            lambda: rbac.create_namespaced_role(
                space.namespace, {"metadata": {"name": "more"}, "rules": []}
            ),
            lambda: core.list_namespaced_pod("default"),  # nothing outside its namespace
            lambda: core.list_namespace(),  # nothing cluster-wide
        ]
        for call in refused:
            with pytest.raises(ApiException) as caught:
                call()
            assert caught.value.status == 403
    finally:
        core.api_client.close()
        rbac.api_client.close()


def test_uninstall_deletes_what_install_made_and_nothing_else(space: Space) -> None:
    root = scheduled_project(space)
    core = space.api("CoreV1Api")
    try:
        core.create_namespaced_service_account(space.namespace, {"metadata": {"name": "theirs"}})
    finally:
        core.api_client.close()
    assert space.kite(root, "install", "--env", "kube").code == 0
    planned = space.kite(root, "uninstall", "--env", "kube", "--dry-run")
    assert planned.code == 0, planned.stderr
    assert planned.stdout.count("would be deleted") == len(space.labelled())
    assert space.labelled(), "the dry run deleted something"
    done = space.kite(root, "uninstall", "--env", "kube")
    assert done.code == 0, done.stderr
    assert "CronJob/kite-kube-e2e: deleted" in done.stdout
    assert f"Namespace/{space.namespace}: kept" in done.stdout
    assert space.labelled() == set()
    core = space.api("CoreV1Api")
    rbac = space.api("RbacAuthorizationV1Api")
    try:
        names = {
            a.metadata.name for a in core.list_namespaced_service_account(space.namespace).items
        }
        assert "theirs" in names  # not kite's: kept
        assert core.read_namespaced_persistent_volume_claim(CLAIM, space.namespace)
        assert rbac.read_namespaced_role("kite", space.namespace)  # the admin's own Role
    finally:
        core.api_client.close()
        rbac.api_client.close()
    again = space.kite(root, "uninstall", "--env", "kube")
    assert again.code == 0, again.stderr
    assert "deleted" not in again.stdout


def test_the_cronjobs_job_runs_kite_apply_to_completion(space: Space, tmp_path: Path) -> None:
    """A Job made from the CronJob's template, as `kubectl create job --from=cronjob/…`
    does, is run by the real Job controller; its pod runs kite, which runs the stages' pods."""
    root = scheduled_project(space)
    assert space.kite(root, "install", "--env", "kube").code == 0
    runner = space.token_config("kite-runner-kube-e2e", tmp_path / "runner.kubeconfig")
    batch = space.api("BatchV1Api")
    try:
        cronjob = batch.read_namespaced_cron_job("kite-kube-e2e", space.namespace)
        template = batch.api_client.sanitize_for_serialization(cronjob.spec.job_template)
        container = template["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][:2] == ["kite", "apply"]
        container["command"] = [sys.executable, "-m", "kitecli", *container["command"][1:]]
        container["env"] += [
            {"name": "KUBECONFIG", "value": str(runner)},
            {"name": "PYTHONPATH", "value": str(Path(__file__).parents[2])},
        ]
        labels = template["metadata"]["labels"]
        job = {"metadata": {"name": "kite-kube-e2e-manual", "labels": labels}, **template}
        job["metadata"] = {"name": "kite-kube-e2e-manual", "labels": labels}
        batch.create_namespaced_job(space.namespace, job)
        status = _wait_job(batch, space.namespace, "kite-kube-e2e-manual", 120)
    finally:
        batch.api_client.close()
    assert status == "Complete", status
    assert len(tree(root / "data-kube" / "raw")) == len(DAYS)
    shown = space.kite(root, "log", "--env", "kube", "--json")
    assert shown.code == 0, shown.stderr
    [run] = json.loads(shown.stdout)
    assert run["status"] == "succeeded", run
    state = space.kite(root, "status", "--env", "kube", "--json")
    assert state.code == 0, state.stderr
    found = json.loads(state.stdout)
    assert found["last_run"]["status"] == "succeeded"
    assert found["last_run"]["argv"][-4:] == ["--env", "kube", "--if-busy", "skip"]
    assert found["running"] is None
    assert found["cluster"]["found"] is True
    assert found["cluster"]["name"] == "kite-kube-e2e"


def _wait_job(batch: Any, namespace: str, name: str, bound: float) -> str:
    """Wait (`bound` s at most) until the Job is Complete or Failed; its condition."""
    began = time.monotonic()
    while time.monotonic() - began < bound:
        job = batch.read_namespaced_job(name, namespace)
        for condition in job.status.conditions or []:
            if condition.type in ("Complete", "Failed") and condition.status == "True":
                return f"{condition.type}" + (
                    "" if condition.type == "Complete" else f": {condition.message}"
                )
        time.sleep(0.5)
    return f"still running after {bound:.0f} s"
