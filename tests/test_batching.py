"""batching.run_batch: per-datum verdicts out of units that stop at their first failure."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from kitecli.executors.base import Outcome, Task
from kitecli.executors.local import LocalExecutor
from kitecli.history.records import Attempt
from kitecli.plan.decide import DatumPlan
from kitecli.run import batching
from kitecli.run.jobs import Job
from kitecli.run.kept import Keeper
from kitecli.run.lanes import Lane, Work
from kitecli.run.views import Workspace
from kitecli.spec.model import Environment, Pipeline, Retries, Stage

STAGE = Stage(name="s", base="s", command=("true",), retries=Retries(limit=2), batch=3)
ENV = Environment(name="e", data="/nonexistent", metadata="", cache="")
PIPELINE = Pipeline("p", Path("/nonexistent/pipeline.yaml"), "b3:0", {}, {"e": ENV}, {"s": STAGE})


class Script:
    """Steps whose units run on paper: `fates[day]` lists each attempt's result, in order."""

    def __init__(self, fates: dict[str, list[str]], *, stop_after: int | None = None) -> None:
        self.fates = fates
        self.stop = threading.Event()
        self.units: list[list[tuple[str, int]]] = []
        self.events: list[str] = []
        self.stop_after = stop_after
        self.progress = self  # notes go to `events`
        self.keeper = Keeper(None, Path("/nonexistent"))  # no --keep-failed

    def note(self, message: str) -> None:
        self.events.append(message)

    def prepare_unit(
        self, lane: Lane, jobs: Sequence[Job], numbers: Sequence[int]
    ) -> list[tuple[Task, Workspace]]:
        work = [Work(j.stage, j.key, j.fingerprint, n) for j, n in zip(jobs, numbers, strict=True)]
        return lane.tasks(PIPELINE, ENV, "run-1", work)

    def run_unit(self, lane: Lane, tasks: Sequence[Task]) -> list[Outcome]:
        self.units.append([(t.key["day"], t.attempt) for t in tasks])
        out: list[Outcome] = []
        for task in tasks:
            if out and not out[-1].ok:
                out.append(Outcome(None, 0, 0, reason="not-run"))
                continue
            fate = self.fates[task.key["day"]].pop(0)
            code = 0 if fate == "ok" else 1
            reason = {"oom": "OOMKilled", "evicted": "Evicted"}.get(fate)
            out.append(
                Outcome(None if reason else code, 0, 0, reason=reason, retryable=fate != "oom")
            )
        if self.stop_after is not None and len(self.units) >= self.stop_after:
            self.stop.set()
        return out

    def settle(
        self, lane: Lane, job: Job, number: int, workspace: Workspace, outcome: Outcome
    ) -> tuple[Attempt, batching.Outputs | None, Outcome]:
        outputs: batching.Outputs | None = {"out": {}} if outcome.ok else None
        return self.record(lane, job, number, outcome), outputs, outcome

    def record(self, lane: Lane, job: Job, number: int, outcome: Outcome) -> Attempt:
        status = "succeeded" if outcome.ok else outcome.reason or "failed"
        key, fp = dict(job.key), job.fingerprint
        return Attempt("s", key, fp, number, "x", status, 0, 0, reason=outcome.reason)


def jobs(*days: str) -> list[Job]:
    return [Job(STAGE, DatumPlan({"day": d}, "run", fingerprint=f"b3:{d}")) for d in days]


def verdicts(results: list[batching.Result]) -> list[list[tuple[int, str]]]:
    return [[(a.attempt, a.status) for a in r.attempts] for r in results]


LANE = Lane(LocalExecutor(), Path("/nonexistent/scratch"), "/")


def test_the_datums_after_a_failure_run_again_with_the_same_attempt_number() -> None:
    steps = Script({"a": ["ok"], "b": ["fail", "ok"], "c": ["ok"], "d": ["ok"]})
    results = batching.run_batch(steps, LANE, jobs("a", "b", "c", "d"))
    assert steps.units == [
        [("a", 1), ("b", 1), ("c", 1), ("d", 1)],
        [("c", 1), ("d", 1)],
        [("b", 2)],
    ]
    assert (
        verdicts(results)
        == [[(1, "succeeded")], [(1, "failed"), (2, "succeeded")]] + [[(1, "succeeded")]] * 2
    )
    assert all(r.outputs is not None for r in results)
    assert steps.events == ["s day=b: attempt 1 failed, retrying (retry 1 of 2)"]


def test_a_failure_that_retrying_cannot_help_is_final() -> None:
    steps = Script({"a": ["oom"], "b": ["ok"]})
    results = batching.run_batch(steps, LANE, jobs("a", "b"))
    assert steps.units == [[("a", 1), ("b", 1)], [("b", 1)]]
    assert verdicts(results) == [[(1, "OOMKilled")], [(1, "succeeded")]]
    assert results[0].outputs is None
    assert results[0].error == "OOMKilled"


def test_retries_stop_at_the_limit() -> None:
    steps = Script({"a": ["evicted", "fail", "fail"], "b": ["ok"]})
    results = batching.run_batch(steps, LANE, jobs("a", "b"))
    assert steps.units == [[("a", 1), ("b", 1)], [("b", 1)], [("a", 2)], [("a", 3)]]
    assert verdicts(results) == [[(1, "Evicted"), (2, "failed"), (3, "failed")], [(1, "succeeded")]]
    assert results[0].outputs is None


def test_datums_left_when_the_apply_stops_are_recorded_as_not_run() -> None:
    steps = Script({"a": ["fail"], "b": [], "c": []}, stop_after=1)
    results = batching.run_batch(steps, LANE, jobs("a", "b", "c"))
    assert len(steps.units) == 1
    assert verdicts(results) == [[(1, "failed")], [(1, "not-run")], [(1, "not-run")]]
    assert [r.outputs for r in results] == [None, None, None]


class Unpreparable(Script):
    """Steps whose working folders cannot be made (a full disk, a name the system refuses)."""

    def prepare_unit(
        self, lane: Lane, jobs: Sequence[Job], numbers: Sequence[int]
    ) -> list[tuple[Task, Workspace]]:
        raise FileExistsError(17, "File exists", "/scratch/in/bam")


def test_a_working_folder_that_cannot_be_made_fails_its_datums_without_running() -> None:
    steps = Unpreparable({"a": ["ok"], "b": ["ok"]})
    results = batching.run_batch(steps, LANE, jobs("a", "b"))
    assert steps.units == []  # nothing ran, nothing was retried
    assert [[a.attempt for a in r.attempts] for r in results] == [[1], [1]]
    for result in results:
        assert result.done
        assert result.error == "could not prepare its working folder: File exists: /scratch/in/bam"
