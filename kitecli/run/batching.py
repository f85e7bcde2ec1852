"""`batch: N`: up to N datums of a stage in one unit (pod), each with its own attempt record.

A datum that fails stops its unit; the datums after it did not run ("not-run"). They are
put into a new unit in the same apply, with the same attempt number: a datum that did not
run has not used up an attempt. A failed datum is retried, in a unit of its own attempt
number, as its stage's retry policy says. The history records each datum's real attempts
only, plus a "not-run" attempt for a datum the apply stopped before it could run again.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kitecli.executors.base import Outcome, Task
from kitecli.history.records import Attempt
from kitecli.history.state import key_id
from kitecli.run import retrying
from kitecli.run.jobs import NOT_RUN, Job, Outputs, Progress, why
from kitecli.run.kept import Keeper
from kitecli.run.lanes import Lane
from kitecli.run.views import Workspace


class Steps(Protocol):
    """What a batch needs of the runner."""

    stop: threading.Event
    progress: Progress
    keeper: Keeper

    def prepare_unit(
        self, lane: Lane, jobs: Sequence[Job], numbers: Sequence[int]
    ) -> list[tuple[Task, Workspace]]: ...

    def run_unit(self, lane: Lane, tasks: Sequence[Task]) -> list[Outcome]: ...

    def settle(
        self, lane: Lane, job: Job, number: int, workspace: Workspace, outcome: Outcome
    ) -> tuple[Attempt, Outputs | None, Outcome]: ...

    def record(self, lane: Lane, job: Job, number: int, outcome: Outcome) -> Attempt: ...


@dataclass
class Result:
    """How one datum of a batch ended: its attempts, and its outputs when it succeeded."""

    attempts: list[Attempt] = field(default_factory=list)
    outputs: Outputs | None = None
    error: str | None = None
    number: int = 1  # the attempt it would run next
    last: Outcome | None = None  # a not-run outcome not recorded yet
    done: bool = False


def chunks(jobs: Sequence[Job], size: int) -> list[list[Job]]:
    """Consecutive groups of at most `size` jobs, in plan order."""
    size = max(size, 1)
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def run_batch(steps: Steps, lane: Lane, jobs: Sequence[Job]) -> list[Result]:
    """Run `jobs` (datums of one stage; often just one) in units of the lane's executor,
    each retried as its stage says, until each ended."""
    results = [Result() for _ in jobs]
    while not steps.stop.is_set():
        pending = [i for i, r in enumerate(results) if not r.done]
        if not pending:
            break
        for number in sorted({results[i].number for i in pending}):
            members = [i for i in pending if results[i].number == number]
            if number > 1 and steps.stop.wait(jobs[0].stage.retries.delay(number - 1)):
                break
            try:
                _unit(steps, lane, jobs, results, members)
            except BaseException:  # a fatal error (the cluster refused): submit nothing more
                steps.stop.set()
                raise
    for job, result in zip(jobs, results, strict=True):
        if not result.done:  # the apply stopped before it ran (again)
            if result.last is not None:
                result.attempts.append(steps.record(lane, job, result.number, result.last))
            result.error = why(result.attempts[-1]) if result.attempts else "cancelled"
    return results


def _unit(
    steps: Steps, lane: Lane, jobs: Sequence[Job], results: list[Result], members: list[int]
) -> None:
    """One unit of the datums `members` (all on the same attempt number), then their verdicts."""
    number = results[members[0]].number
    try:
        prepared = steps.prepare_unit(lane, [jobs[i] for i in members], [number] * len(members))
    except OSError as exc:  # a folder kite cannot make: these datums fail, the run goes on
        _unprepared(steps, lane, jobs, results, members, exc)
        return
    outcomes = steps.run_unit(lane, [task for task, _ in prepared])
    for position, (i, (task, workspace), outcome) in enumerate(
        zip(members, prepared, outcomes, strict=True)
    ):
        job, result = jobs[i], results[i]
        if outcome.reason == NOT_RUN and position > 0:
            result.last = outcome  # did not run: same attempt number in the next unit
            continue
        result.last = None
        kept = steps.keeper.keep(task, workspace)  # --keep-failed: before kite settles it
        attempt, outputs, outcome = steps.settle(lane, job, number, workspace, outcome)
        if outcome.ok and outputs is not None:
            steps.keeper.drop(kept)
            result.attempts.append(attempt)
            result.outputs, result.done = outputs, True
            continue
        judged = retrying.verdict(job.stage, number, outcome)
        attempt = dataclasses.replace(attempt, kept=steps.keeper.shown(kept))
        result.attempts.append(dataclasses.replace(attempt, retry=judged.why or None))
        cause = why(attempt)
        shown = f"{job.stage.name} {key_id(job.key)}: attempt {number} failed"
        shown += f" ({cause})" if cause != "failed" else ""
        if judged.retry:
            result.number = number + 1
            more = retrying.grown(job.stage, number + 1)
            steps.progress.note(f"{shown}, retrying ({judged.why}{more})")
        else:
            if judged.why:
                steps.progress.note(f"{shown}, {judged.why}")
            result.error, result.done = why(attempt), True


def _unprepared(
    steps: Steps,
    lane: Lane,
    jobs: Sequence[Job],
    results: list[Result],
    members: list[int],
    exc: OSError,
) -> None:
    """The datums `members` failed before running: their working folders could not be made."""
    now = time.time()
    reason = f"could not prepare its working folder: {exc.strerror or exc}"
    if exc.filename:
        reason += f": {exc.filename}"
    outcome = Outcome(None, now, now, reason=reason, retryable=False, detail=reason)
    for i in members:
        number = results[i].number
        results[i].attempts.append(steps.record(lane, jobs[i], number, outcome))
        results[i].error, results[i].done = reason, True
