"""`kite apply --wait DURATION`: before the run, plan again (with backoff) until no datum
waits for data (`ready:`), or the time is up; it says what it waits for at each try."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kitecli.history.project import Project
from kitecli.plan.plan import waiting
from kitecli.plan.planning import plan_project, scan_project

FIRST_PAUSE = 1.0  # seconds; doubled after each try
LONGEST_PAUSE = 30.0


def wait_for_data(
    project: Project,
    seconds: float,
    *,
    stages: Sequence[str] = (),
    downstream: bool = False,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once nothing the selected stages would plan waits for data, or after
    `seconds`; what still waits then stays waiting (the run goes on without it)."""
    deadline, pause = clock() + seconds, FIRST_PAUSE
    while True:
        state, _ = project.committed()
        data = scan_project(project, stages, downstream=downstream)
        plan = plan_project(
            project, state, data=data, stages=stages, downstream=downstream, triggers=False
        )
        held = waiting(plan)
        if held is None:
            return
        left = deadline - clock()
        if left <= 0:
            say(f"kite: waited {seconds:g} s; {held}: the run goes on without them")
            return
        pause = min(pause, left)
        say(f"kite: {held}; looking again in {pause:.0f} s ({left:.0f} s of --wait left)")
        sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)
