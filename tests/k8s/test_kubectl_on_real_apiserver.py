"""What docs/kubernetes.md tells users to do with kubectl works on kite's pods (real server)."""

from __future__ import annotations

import json
import subprocess

from tests.executors.rigs import Rig
from tests.k8s.test_real_apiserver import SH, Space, run, space

__all__ = ["space"]


def kubectl(space: Space, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl as the user `kite`, in the test's namespace (bounded: 60 s)."""
    plane = space.cluster.plane
    argv = [str(plane.binaries / "kubectl"), f"--kubeconfig={plane.kite}", "-n", space.namespace]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60)


def test_kubectl_finds_kept_pods_by_label_and_the_user_may_do_no_more(space: Space) -> None:
    keeping: Rig = space.rig(keep_pods=True)
    try:
        task = keeping.task([SH, "-c", "echo kept"], name="step")
        assert run(keeping, task).ok
    finally:
        keeping.executor.close()
    listed = kubectl(space, "get", "pods", "-l", "kite.dev/stage=step", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    (pod,) = json.loads(listed.stdout)["items"]
    assert pod["metadata"]["labels"]["kite.dev/run"] == keeping.run_id
    assert pod["status"]["phase"] == "Succeeded"
    logs = kubectl(space, "logs", pod["metadata"]["name"])
    assert logs.stdout == "kept\n", logs.stderr
    assert kubectl(space, "auth", "can-i", "create", "pods").stdout.strip() == "yes"
    denied = kubectl(space, "auth", "can-i", "create", "serviceaccounts")
    assert denied.stdout.strip() == "no"
    deleted = kubectl(
        space, "delete", "pods", "-l", f"kite.dev/run={keeping.run_id}", "--wait=false"
    )
    assert deleted.returncode == 0, deleted.stderr
