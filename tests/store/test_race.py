"""8 processes race for one environment on each backend: one lease holder at a time, a
linear ref history, every run committed or cleanly refused, no object lost or overwritten."""

from __future__ import annotations

import json
import multiprocessing
import os
from multiprocessing.context import ForkServerContext
from pathlib import Path

import race_worker

from kitecli.store import open_repo

WORKERS = 8
ROUNDS = 3


def forkserver() -> ForkServerContext:
    """Processes forked from one server that imported the store clients once (importing
    s3fs and gcsfs costs each fresh process about a second of CPU)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kitecli.store.repo", "s3fs", "gcsfs", "race_worker"])
    return context


def test_racing_appliers_keep_one_holder_and_a_linear_history(
    store_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "race"
    out.mkdir()
    context = forkserver()
    procs = [
        context.Process(
            target=race_worker.run, args=(store_url, str(out), n, ROUNDS, dict(os.environ))
        )
        for n in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=150)
    errors = {p.name: p.read_text() for p in out.glob("*.error")}
    assert not errors
    assert [proc.exitcode for proc in procs] == [0] * WORKERS
    rounds = [
        json.loads(line)
        for n in range(WORKERS)
        for line in (out / f"worker-{n}.jsonl").read_text().splitlines()
    ]
    assert len(rounds) == WORKERS * ROUNDS
    assert not any(r["overlap"] for r in rounds), "two processes held the lease at once"
    committed = {r["commit"] for r in rounds if r["outcome"] == "committed"}
    assert {r["outcome"] for r in rounds} <= {"committed", "stale"}
    # every round that planned under the lease (even rounds) must have committed
    assert all(r["outcome"] == "committed" for r in rounds if r["round"] % 2 == 0)

    repo = open_repo(store_url)
    chain: list[str] = []
    commit = repo.ref("prod").commit
    while commit is not None:
        chain.append(commit)
        commit = json.loads(repo.get(commit))["parent"]
    assert len(chain) == len(set(chain)) == len(committed)
    assert set(chain) == committed
    for r in rounds:  # nothing lost, nothing overwritten: every object reads back verified
        body = json.loads(repo.get(r["commit"]))
        assert (body["worker"], body["round"]) == (r["worker"], r["round"])
        assert repo.get(r["data"]) == f"data of worker {r['worker']} round {r['round']}".encode()
    assert repo.lease_holder("prod") is None
