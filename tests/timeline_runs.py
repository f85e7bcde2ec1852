"""A run record of many attempts committed to a project's metadata repo as `kite apply`
commits one (tests/test_timeline.py: the timeline of 10,000 attempts, which would take
minutes to run for real)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from pathlib import Path

from kitecli.history import ledger
from kitecli.history.records import Attempt, RunRecord
from kitecli.store import open_repo

SLOTS = 8  # attempts at once, as `kite apply --parallel 8`


def commit_run(metadata: Path, env: str, *, attempts: int) -> Counter[str]:
    """Commit a run of `attempts` attempts over two stages, 8 at once, about 1 in 50
    failing; returns how many have each status."""
    repo = open_repo(str(metadata))
    state, ref = ledger.read_state(repo, env)
    chance = random.Random(7)
    start = 1_800_000_000.0
    free = [start] * SLOTS
    made = []
    for n in range(attempts):
        stage = "clean" if n < attempts * 4 // 5 else "daily"
        slot = min(range(SLOTS), key=free.__getitem__)
        began = free[slot] + chance.uniform(0.001, 0.01)
        free[slot] = began + chance.uniform(0.05, 0.4)
        failed = chance.random() < 0.02
        made.append(
            Attempt(
                stage=stage,
                key={"day": f"d{n:05d}"},
                fingerprint=f"f{n}",
                attempt=1,
                executor="local",
                status="failed" if failed else "succeeded",
                started=began,
                ended=free[slot],
                exit_code=1 if failed else 0,
                where=f"pid {1000 + n}",
                node="worker",
            )
        )
    run = RunRecord(
        id="20270115-080000-abcdef",
        env=env,
        user="someone",
        host="worker",
        argv=("kite", "apply", "--parallel", str(SLOTS)),
        started=start,
        ended=max(free) + 0.5,
        status="failed",
        counts=dict(Counter(a.status for a in made)),
        attempts=tuple(made),
    )
    ledger.commit(
        repo,
        env=env,
        expected=ref,
        state=dataclasses.replace(state),
        run=run,
        pipeline=ledger.read_commit(repo, str(ref.commit)).pipeline,
        user="someone",
        message="a large run",
    )
    return Counter(a.status for a in made)
