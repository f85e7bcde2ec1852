"""What a failed attempt says where the user is looking: the last lines of its output and
the command that prints the rest."""

from __future__ import annotations

import zlib

from kitecli.history.log import logs_command, tail
from kitecli.history.records import Attempt
from kitecli.store.repo import Repo


def explain(repo: Repo, run_id: str, attempt: Attempt) -> list[tuple[str, bool]]:
    """Lines to print under a failed datum, each with whether it is the command's own output
    (shown dimmed): its output's tail, why kite says it ended (its last note: a pod not
    scheduled, an image that does not pull), how to see all of it, where it was kept."""
    more = []
    if attempt.kept is not None:
        more.append(
            f"    kept: {attempt.kept}/ (run it again by hand: sh {attempt.kept}/command.sh)"
        )
    if attempt.log is None:
        return [(line, False) for line in more]
    log = zlib.decompress(repo.get(attempt.log))
    shown = [("    " + line, True) for line in tail(log)]
    notes = [n for n in log.decode("utf-8", "replace").splitlines() if n.startswith("[kite] ")]
    shown += [("    " + notes[-1], False)] if notes else []
    more.insert(0, f"    (all of it: {logs_command(run_id, attempt)})")
    return [*shown, *((line, False) for line in more)]
