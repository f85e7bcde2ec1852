"""`repeat: {until, max, then}`: one datum's iterations, each a datum of its own.

Iteration k reads what iteration k-1 wrote in the place of the stage's one input (the
input itself for k = 1) and has its own fingerprint (plan/fingerprint.py:
`iteration_fingerprint`): from the stage definition, the key, k and the root digest of what
it reads. An iteration found in the run cache is not run again, so an apply killed at
iteration 2 resumes there, and an upstream change that leaves iteration 1's output as it
was finds every later iteration cached (early cutoff per iteration). `until` is evaluated
on each iteration's output; the first that holds ends the loop, and that output is the
datum's. After `max` iterations the datum fails, or (`then: accepted`) keeps the last.
Each iteration runs with the stage's retries (run/batching.py). Local processes only.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kitecli.env.guard import Guard
from kitecli.executors.base import Outcome, Task
from kitecli.history import ledger
from kitecli.history.records import Attempt, RunRecord
from kitecli.history.state import RunCacheEntry, key_id
from kitecli.plan.fingerprint import iteration_fingerprint
from kitecli.run import batching
from kitecli.run.batching import Result
from kitecli.run.jobs import Job, Outputs, Settings, instant
from kitecli.run.lanes import Lane
from kitecli.run.views import Source, Workspace
from kitecli.scan import manifest
from kitecli.scan.manifest import FileEntry
from kitecli.spec import expr
from kitecli.spec.model import Repeat
from kitecli.spec.repeat import METRICS_FILE, SAFE
from kitecli.store import links
from kitecli.store.blobs import CAS
from kitecli.store.repo import Repo

METRICS_LIMIT = 1 << 20  # bytes of metrics.json `until` reads at most


class Runner(batching.Steps, Protocol):
    """What the loop needs of the runner: what a batch does, and input views from `via`."""

    repo: Repo
    cas: CAS
    settings: Settings
    run: RunRecord
    guard: Guard

    def prepare_unit(
        self,
        lane: Lane,
        jobs: Sequence[Job],
        numbers: Sequence[int],
        via: Source | None = None,
    ) -> list[tuple[Task, Workspace]]: ...


def run(runner: Runner, lane: Lane, jobs: list[Job], definition: str) -> list[Result]:
    """The datums `jobs` of one stage: iterated when it has `repeat:`, else as a batch."""
    if jobs[0].stage.repeat is None:
        return batching.run_batch(runner, lane, jobs)
    return [Loop(runner, lane, job, definition).run() for job in jobs]


@dataclass(frozen=True)
class Previous:
    """A view source: the folder an iteration's output was materialised in."""

    folder: Path

    def view(self, folder: str, dest: Path, files: Mapping[str, FileEntry] | None) -> None:
        links.link_view(self.folder, dest, files)


class Through:
    """The runner as batching sees it, making input views from `source`."""

    def __init__(self, runner: Runner, source: Source | None) -> None:
        self.runner, self.source = runner, source
        self.stop, self.progress, self.keeper = runner.stop, runner.progress, runner.keeper

    def prepare_unit(
        self, lane: Lane, jobs: Sequence[Job], numbers: Sequence[int]
    ) -> list[tuple[Task, Workspace]]:
        return self.runner.prepare_unit(lane, jobs, numbers, self.source)

    def run_unit(self, lane: Lane, tasks: Sequence[Task]) -> list[Outcome]:
        return self.runner.run_unit(lane, tasks)

    def settle(
        self, lane: Lane, job: Job, number: int, workspace: Workspace, outcome: Outcome
    ) -> tuple[Attempt, Outputs | None, Outcome]:
        return self.runner.settle(lane, job, number, workspace, outcome)

    def record(self, lane: Lane, job: Job, number: int, outcome: Outcome) -> Attempt:
        return self.runner.record(lane, job, number, outcome)


class Loop:
    """The iterations of one datum of a stage with `repeat:`."""

    def __init__(self, runner: Runner, lane: Lane, job: Job, definition: str) -> None:
        assert job.stage.repeat is not None
        self.runner, self.lane, self.job, self.definition = runner, lane, job, definition
        self.spec: Repeat = job.stage.repeat
        self.output = job.stage.outputs[0].name
        self.result = Result()
        self.folders: list[Path] = []
        self.name = f"{job.stage.name} {key_id(job.key) or '(whole)'}"

    def run(self) -> Result:
        """Iterate until `until` holds, `max` iterations ran, or one fails."""
        self.result.done = True
        if self.lane.seen is not None:  # pods see no folder of this machine's
            return self._fail(f"{SAFE}; this stage runs in pods")
        try:
            return self._iterate()
        finally:
            self._clear()

    def _clear(self) -> None:
        """Remove the folder the last iteration's output was materialised in."""
        while self.folders:
            folder = self.folders.pop()
            if folder.exists():
                links.clear(folder)

    def _iterate(self) -> Result:
        reads = next(iter(self.job.plan.roots.values()), manifest.EMPTY.digest)
        source: Source | None = None
        before: Mapping[str, Any] = {}
        outputs: Outputs | None = None
        for k in range(1, self.spec.max + 1):
            job = self._job(k, reads)
            if self.runner.stop.is_set():
                return self._cancelled(job, k)
            outputs = self._cached(job, k) or self._ran(job, k, source)
            if outputs is None:
                return self.result
            folder = self._materialise(job, outputs)
            try:
                seen = variables(folder, outputs[self.output], k, before)
                holds = expr.condition(self.spec.until, seen)
            except (expr.ExprEvalError, ValueError) as exc:
                return self._fail(
                    f"repeat: `until: {self.spec.until}` failed on iteration {k}: {exc}"
                )
            self._mark(k, holds)
            if holds:
                return self._keep(outputs)
            reads = manifest.from_files(outputs[self.output]).digest
            source, before = Previous(folder), seen["metrics"]
        return self._exhausted(outputs)

    def _job(self, k: int, reads: str) -> Job:
        fingerprint = iteration_fingerprint(self.definition, self.job.key, k, reads)
        plan = dataclasses.replace(self.job.plan, fingerprint=fingerprint)
        return Job(self.job.stage, plan)

    def _cached(self, job: Job, k: int) -> Outputs | None:
        """The outputs of iteration `k` from the run cache, when its blobs are intact."""
        entry = ledger.cache_get(self.runner.repo, job.fingerprint)
        if entry is None or self.output not in entry.outputs:
            return None
        files = entry.outputs[self.output]
        if not all(self.runner.cas.verify(e.digest) for e in files.values()):
            return None
        attempt = instant(job)
        self.result.attempts.append(
            dataclasses.replace(attempt, status="cached", reason=f"iteration {k} in the run cache")
        )
        return {name: dict(found) for name, found in entry.outputs.items()}

    def _ran(self, job: Job, k: int, source: Source | None) -> Outputs | None:
        """Run iteration `k` (with the stage's retries); its outputs, None if it failed."""
        done = batching.run_batch(Through(self.runner, source), self.lane, [job])[0]
        self.result.attempts += [dataclasses.replace(a, iteration=k) for a in done.attempts]
        if done.outputs is None:
            self.result.error = done.error
        return done.outputs

    def _materialise(self, job: Job, outputs: Outputs) -> Path:
        """Iteration's output in a folder of the run: what `until` and the next iteration read."""
        folder = (
            self.runner.settings.scratch / "iterations" / job.fingerprint.removeprefix("b3:")[:32]
        )
        self.runner.guard.check(folder, doing="materialise an iteration at")
        self._clear()  # what this iteration read: no iteration reads it again
        if folder.exists():
            links.clear(folder)
        folder.mkdir(parents=True)
        self.folders.append(folder)
        for rel, entry in outputs[self.output].items():
            self.runner.cas.materialize(entry.digest, folder / rel)
        return folder

    def _mark(self, k: int, holds: bool) -> None:
        """Iteration `k`'s last attempt records whether `until` held."""
        last = self.result.attempts[-1]
        self.result.attempts[-1] = dataclasses.replace(last, iteration=k, until=holds)
        said = "holds" if holds else "is false"
        how = " (from the run cache)" if last.status == "cached" else ""
        of = f"iteration {k} of at most {self.spec.max}{how}"
        self.runner.progress.note(f"{self.name}: {of}: `{self.spec.until}` {said}")

    def _keep(self, outputs: Outputs) -> Result:
        """The datum's outputs are `outputs`; the whole loop is cached under its fingerprint."""
        self.result.outputs = outputs
        entry = RunCacheEntry(self.job.fingerprint, outputs, self.runner.run.id)
        ledger.cache_put(self.runner.repo, entry)
        return self.result

    def _exhausted(self, outputs: Outputs | None) -> Result:
        """`max` iterations ran and `until` never held: as `then` says."""
        said = f"repeat: `{self.spec.until}` did not hold after {self.spec.max} iterations"
        if self.spec.then == "accepted" and outputs is not None:
            self.runner.progress.note(
                f"{self.name}: {said}; the last one is accepted (`then: accepted`)"
            )
            return self._keep(outputs)
        return self._fail(f"{said} (`then: failed`)")

    def _fail(self, reason: str) -> Result:
        """The datum failed for `reason`, its last attempt saying so."""
        self.result.error = reason
        if self.result.attempts:
            last = self.result.attempts[-1]
            self.result.attempts[-1] = dataclasses.replace(last, status="failed", reason=reason)
        else:
            now = time.time()
            self.result.attempts.append(
                dataclasses.replace(instant(self.job), status="failed", reason=reason, started=now)
            )
        return self.result

    def _cancelled(self, job: Job, k: int) -> Result:
        attempt = dataclasses.replace(instant(job), status="cancelled", iteration=k, reason=None)
        self.result.attempts.append(attempt)
        self.result.error = "cancelled"
        return self.result


def variables(
    folder: Path, files: Mapping[str, FileEntry], iteration: int, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """What `until` sees of iteration `iteration`'s output, materialised in `folder`."""
    return {
        "iteration": iteration,
        "files": len(files),
        "bytes": sum(e.size for e in files.values()),
        "names": sorted(files),
        "metrics": metrics(folder, files),
        "previous": dict(previous),
    }


def metrics(folder: Path, files: Mapping[str, FileEntry]) -> Any:
    """The output's metrics.json, parsed ({} when it has none)."""
    entry = files.get(METRICS_FILE)
    if entry is None:
        return {}
    if entry.size > METRICS_LIMIT:
        raise ValueError(f"{METRICS_FILE} holds {entry.size} bytes, more than {METRICS_LIMIT}")
    try:
        return expr.plain(json.loads((folder / METRICS_FILE).read_bytes()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{METRICS_FILE} is not JSON: {exc}") from exc
