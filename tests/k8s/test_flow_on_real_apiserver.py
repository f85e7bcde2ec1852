"""Datums flow across stages in pods, against the real API server (run/flow.py): a pod of
`size` starts while `clean`'s slowest pod still runs, and the results and the run record are
those of the same pipeline applied with `--parallel 1`, stage by stage, in pods too.

The project is tests/e2e.py's, with a second Kubernetes environment (`serial`: its own data,
metadata and cache) for the run stage by stage; one datum of `clean` sleeps, the rest do not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e import DAYS, calls
from tests.helpers import write
from tests.k8s.project import make_cluster_project, tree
from tests.k8s.test_apply_on_real_apiserver import Space, space

__all__ = ["space"]

SLEEP = 8  # seconds the slow datum of `clean` runs; the API server's times are in seconds
SLOW = "2024-01-01.csv"
SAME = ("stage", "key", "fingerprint", "attempt", "status", "exit_code", "reason", "params")


def _project(space: Space) -> Path:
    """tests/k8s/project.py's project, whose `clean` sleeps on SLOW only, with `serial`."""
    root = make_cluster_project(space, namespace=space.namespace, env={"STEP_SLEEP": str(SLEEP)})
    step = (root / "step.py").read_text()
    slow = f'if stage == "clean" and "{SLOW}" in {{p.name for p in files}}:'
    write(root, {"step.py": step.replace('if os.environ.get("STEP_SLEEP"):', slow)})
    text = (root / "pipeline.yaml").read_text()
    kube = text.split("  kube:\n", 1)[1].split("defaults:\n", 1)[0]
    serial = "  serial:\n" + kube.replace("-kube", "-serial").replace("./cache", "./cache-serial")
    write(root, {"pipeline.yaml": text.replace("defaults:\n", serial + "defaults:\n", 1)})
    write(root, {f"data-serial/raw/{day}.csv": f"day,{day}\n" for day in DAYS})
    for env in ("kube", "serial"):
        installed = space.kite(root, "install", "--env", env, admin=True)
        assert installed.code == 0, installed.stderr
    return root


def _attempts(space: Space, root: Path, env: str) -> list[dict[str, Any]]:
    """The attempts of the environment's last run, as `kite show last --json` has them."""
    shown = space.kite(root, "show", "last", "--env", env, "--json")
    assert shown.code == 0, shown.stderr
    found: list[dict[str, Any]] = json.loads(shown.stdout)["attempts"]
    return found


def _same(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an attempt record says whatever ran it, in a stable order."""
    kept = [{k: a[k] for k in SAME} for a in found]
    return sorted(kept, key=lambda a: json.dumps(a, sort_keys=True))


def _overlap(found: list[dict[str, Any]]) -> float:
    """How long before `clean`'s last pod ended the first pod of `size` started (seconds)."""
    clean = [a["ended"] for a in found if a["stage"] == "clean"]
    size = [a["started"] for a in found if a["stage"] == "size"]
    return float(max(clean) - min(size))


def test_datums_flow_across_stages_in_pods_as_a_run_stage_by_stage_would(space: Space) -> None:
    root = _project(space)
    flowing = space.kite(root, "apply", "--env", "kube", "--parallel", "4")
    assert flowing.code == 0, flowing.stderr
    flowed = _attempts(space, root, "kube")
    flow_calls = sorted(calls(root / "calls.log"))
    serial = space.kite(root, "apply", "--env", "serial", "--parallel", "1")
    assert serial.code == 0, serial.stderr
    staged = _attempts(space, root, "serial")
    # `size` started on the fast days' pods while the slow day's pod of `clean` still ran
    assert _overlap(flowed) >= 2.0, flowed
    assert _overlap(staged) <= 0.0, staged  # stage by stage: it waits for all of `clean`
    slow_size = [a for a in flowed if a["stage"] == "size" and a["key"] == {"day": DAYS[0]}]
    assert slow_size[0]["started"] >= max(a["ended"] for a in flowed if a["stage"] == "clean")
    total = next(a for a in flowed if a["stage"] == "total")
    assert total["started"] >= max(a["ended"] for a in flowed if a["stage"] == "size")
    assert all(a["executor"] == "kubernetes" for a in flowed + staged)
    # the same work, once each, and the same results and records
    assert flow_calls == sorted(calls(root / "calls.log"))
    assert len(flow_calls) == len(DAYS) * 2 + 1  # nothing started early was thrown away
    assert tree(root / "data-kube") == tree(root / "data-serial")
    assert _same(flowed) == _same(staged)
    assert {a["status"] for a in flowed} == {"succeeded"}
    assert [a["stage"] for a in flowed] == [a["stage"] for a in staged]  # stage by stage
    for env in ("kube", "serial"):
        unchanged = space.kite(root, "plan", "--env", env, "--detailed-exitcode")
        assert unchanged.code == 0, unchanged.stdout + unchanged.stderr
