"""One of several processes racing for an environment (run by test_race through a forkserver).

Each round plans (reads the ref) before or after taking the lease, writes a data object and
a commit object whose parent is the planned commit, and moves the ref by compare-and-swap.
While it holds the lease it keeps an O_EXCL marker file in OUT, so two holders at once show
up as a failed create. One JSON line per round goes to OUT/worker-N.jsonl.
"""

from __future__ import annotations

import json
import os
import random
import time
import traceback

from kitecli.errors import LeaseBusy, StalePlanError
from kitecli.store import open_repo
from kitecli.store.repo import Repo

ENV = "prod"


def take(repo: Repo, holder: str) -> object:
    deadline = time.monotonic() + 100
    pause = 0.02
    while True:
        try:
            return repo.acquire(ENV, holder=holder, ttl=60)
        except LeaseBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 1.5, 0.4)


def one_round(repo: Repo, out: str, worker: int, round_: int) -> dict[str, object]:
    early = repo.ref(ENV) if round_ % 2 else None  # odd rounds plan before the lease
    lease = take(repo, f"w{worker}")
    marker = os.path.join(out, "holder")
    overlap = False
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
    except FileExistsError:
        overlap = True
    try:
        planned = early or repo.ref(ENV)
        data = repo.put(f"data of worker {worker} round {round_}".encode())
        body = {"parent": planned.commit, "worker": worker, "round": round_, "data": data}
        commit = repo.put(json.dumps(body, sort_keys=True).encode())
        try:
            repo.set_ref(ENV, commit, expected=planned)
            outcome = "committed"
        except StalePlanError:
            outcome = "stale"
    finally:
        if not overlap:
            os.unlink(marker)
        repo.release(lease)  # type: ignore[arg-type]
    return {
        "worker": worker,
        "round": round_,
        "commit": commit,
        "data": data,
        "outcome": outcome,
        "overlap": overlap,
    }


def run(url: str, out: str, worker: int, rounds: int, environ: dict[str, str]) -> None:
    """The body of one racing process; `environ` is the test's (the forkserver's is older)."""
    os.environ.clear()
    os.environ.update(environ)
    try:
        repo = open_repo(url)
        with open(os.path.join(out, f"worker-{worker}.jsonl"), "w") as log:
            for round_ in range(rounds):
                log.write(json.dumps(one_round(repo, out, worker, round_)) + "\n")
                log.flush()
    except BaseException:
        # the forkserver's stderr is not this test's: leave the traceback where it looks
        with open(os.path.join(out, f"worker-{worker}.error"), "w") as err:
            err.write(traceback.format_exc())
        raise
