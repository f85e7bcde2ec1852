"""kill -9 in the middle of `kite apply`, then apply again: nothing lost, nothing twice."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

from tests.e2e import make_project
from tests.helpers import start

DAYS = tuple(f"2024-02-{d:02d}" for d in range(1, 9))


def test_kill_9_then_apply_again(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path, days=DAYS)
    env = {
        "CALLS_LOG": str(log),
        "STEP_SLEEP": "0.7",
        "KITE_CHECKPOINT_SECONDS": "0",
        "KITE_LEASE_TTL": "2",
    }
    victim = start("apply", "--parallel", "2", cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while _committed(tmp_path) < 3 and time.monotonic() < deadline:  # some, not all, done
        time.sleep(0.1)
    victim.signal(signal.SIGKILL)
    victim.result()
    assert _committed(tmp_path) < len(DAYS), "the run finished before it could be killed"
    time.sleep(3)  # orphaned steps finish, the lease expires
    again = run_kite("apply", "--parallel", "2", env={"CALLS_LOG": str(log)})
    assert again.code == 0, again.stderr

    successes = Counter()
    for run in json.loads(run_kite("log", "--json").stdout):
        shown = json.loads(run_kite("show", run["id"], "--json").stdout)
        for attempt in shown["attempts"]:
            # a datum finished but not committed before the kill may come back from the
            # run cache (its outputs were already in the content store): that is no rerun
            if attempt["status"] in ("succeeded", "cached"):
                successes[(attempt["stage"], json.dumps(attempt["key"], sort_keys=True))] += 1
    assert all(n == 1 for n in successes.values()), successes
    assert sum(1 for stage, _ in successes if stage == "clean") == len(DAYS)
    assert sorted(p.name for p in (tmp_path / "data/clean").iterdir()) == [f"{d}.csv" for d in DAYS]
    assert (tmp_path / "data/total/all.txt").read_text() == f"{3 * len(DAYS)}\n"
    fsck = run_kite("fsck")
    assert fsck.code == 0, fsck.stdout + fsck.stderr
    assert run_kite("plan", "--detailed-exitcode").code == 0


def _committed(root: Path) -> int:
    """How many datums of `clean` kite.lock says are committed."""
    lock = root / "kite.lock"
    if not lock.exists():
        return 0
    from ruamel.yaml import YAML

    try:
        document = YAML(typ="safe").load(lock.read_text()) or {}
    except Exception:
        return 0
    stage = document.get("environments", {}).get("dev", {}).get("stages", {}).get("clean", {})
    return int(stage.get("counts", {}).get("succeeded", 0))
