"""`kite status` from the pipeline and the metadata repo: the schedule and its next run,
the last run's outcome, and a run in progress (the lease). The cluster's side is tested
against the real API server (tests/k8s/test_install_on_real_apiserver.py)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from kitecli.store import open_repo
from kitecli.store.lease import acquire
from tests.helpers import kite
from tests.k8s.project import make_cluster_project

SCHEDULE = '    schedule: {cron: "15 4 * * *", timezone: America/New_York, image: "k:1"}\n'


@dataclass
class Folder:
    volume: Path


def project(tmp_path: Path) -> Path:
    root = make_cluster_project(Folder(tmp_path / "volume"))
    text = (root / "pipeline.yaml").read_text()
    head, tail = text.split("\ndefaults:\n", 1)
    (root / "pipeline.yaml").write_text(head + "\n" + SCHEDULE + "defaults:\n" + tail)
    return root


def status(root: Path, env: str) -> dict:  # type: ignore[type-arg]
    shown = kite("status", "--env", env, "--no-cluster", "--json", cwd=root)
    assert shown.code == 0, shown.stderr
    found: dict = json.loads(shown.stdout)  # type: ignore[type-arg]
    return found


def test_an_environment_without_a_schedule_shows_its_last_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = status(root, "dev")
    assert before["schedule"] is None
    assert before["last_run"] is None
    assert kite("apply", "--env", "dev", cwd=root).code == 0
    after = status(root, "dev")
    assert after["last_run"]["status"] == "succeeded"
    assert after["running"] is None
    text = kite("status", "--env", "dev", "--no-cluster", cwd=root)
    assert "last run" in text.stdout
    assert "succeeded" in text.stdout


def test_the_schedule_and_its_next_run_in_the_zone(tmp_path: Path) -> None:
    root = project(tmp_path)
    found = status(root, "kube")
    assert found["schedule"]["cron"] == "15 4 * * *"
    assert found["schedule"]["if_busy"] == "skip"
    local = dt.datetime.fromtimestamp(found["next_run"], zoneinfo.ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (4, 15)
    assert 0 < found["next_run"] - found["checked"] <= 86400
    assert found["cluster"] is None  # --no-cluster


def test_a_run_in_progress_is_the_lease(tmp_path: Path) -> None:
    root = project(tmp_path)
    repo = open_repo(str(root / "meta-kube"))
    acquire(repo.backend, "kube", holder="cron@node-1", ttl=300)
    found = status(root, "kube")
    assert found["running"]["holder"] == "cron@node-1"
    text = kite("status", "--env", "kube", "--no-cluster", cwd=root).stdout
    assert "running      yes: cron@node-1" in text
