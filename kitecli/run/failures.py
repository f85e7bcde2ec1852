"""What a failed attempt says where the user is looking: the last lines of its output and
the command that prints the rest."""

from __future__ import annotations

import shlex
import zlib

from kitecli.history.log import tail
from kitecli.history.records import Attempt
from kitecli.store.repo import Repo


def explain(repo: Repo, run_id: str, attempt: Attempt) -> list[str]:
    """Lines to print under a failed datum: its output's tail, why kite says it ended (its
    last note: a pod not scheduled, an image that does not pull), then how to see all of it."""
    if attempt.log is None:
        return []
    log = zlib.decompress(repo.get(attempt.log))
    shown = ["    " + line for line in tail(log)]
    notes = [n for n in log.decode("utf-8", "replace").splitlines() if n.startswith("[kite] ")]
    shown += ["    " + notes[-1]] if notes else []
    datum = [f"--datum {shlex.quote(f'{k}={v}')}" for k, v in sorted(attempt.key.items())]
    see = " ".join(["kite logs", run_id, shlex.quote(attempt.stage), *datum])
    return [*shown, f"    (all of it: {see})"]
