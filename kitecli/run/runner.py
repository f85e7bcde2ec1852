"""Execute planned work: schedule datums, retry, merge outputs, checkpoint, stop cleanly."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kitecli.env import guard
from kitecli.errors import KiteError
from kitecli.executors.base import Executor, Handle, Outcome, Task
from kitecli.history.records import Attempt, RunRecord, RunStatus
from kitecli.history.state import (
    EnvState,
    StageState,
)
from kitecli.plan.blocking import Blocked
from kitecli.plan.decide import DatumPlan
from kitecli.plan.plan import StagePlan
from kitecli.run import batching, breaks, inplace, kept, repeating, trust, views
from kitecli.run.collect import Collector
from kitecli.run.flow import Flow
from kitecli.run.jobs import (
    Done,
    Early,
    Job,
    Planner,
    Progress,
    Quiet,
    Settings,
    Verdict,
    attempt_of,
    instant,
)
from kitecli.run.lanes import Lane, Work
from kitecli.run.merging import Merger
from kitecli.run.slots import AHEAD, Slots
from kitecli.scan import manifest
from kitecli.scan.listing import Listing
from kitecli.scan.manifest import FileEntry
from kitecli.spec.model import Environment, Pipeline, Stage
from kitecli.store.repo import Ref
from kitecli.store.roots import Root, open_root


class Runner(Merger):
    """Runs the stages of one apply in graph order; owns the in-memory state of the run."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        env: Environment,
        isolation: guard.Isolation,  # the repo, CAS and roots it reads and writes through
        lanes: Callable[[Stage], Lane],  # which executor runs a stage, and where
        run: RunRecord,
        state: EnvState,
        ref: Ref,
        files: Mapping[str, FileEntry],
        settings: Settings,
        progress: Progress | None = None,
        root: Root | None = None,
        scanned: manifest.Manifest = manifest.EMPTY,
    ) -> None:
        self.pipeline, self.env = pipeline, env
        self.repo, self.cas = isolation.repo, isolation.cas
        self.lanes, self.run, self.ref = lanes, run, ref
        self.files = Listing(files)  # its tree kept up to date: only what changed is hashed
        self.settings = settings
        self.scanned = scanned  # its `.kiteignore` lines and left-out folders hold for the run
        self.progress: Progress = progress or Quiet()
        self.read_from = dict(isolation.read_from)  # input folder → another data root
        self.guard = isolation.writes  # every write below is checked first
        self.local = None if "://" in env.data else Path(env.data)  # for the guard
        self.root: Root = root or open_root(
            env, project=pipeline.root, cas=self.cas, staging=settings.scratch / "staged"
        )
        self.stages: dict[str, StageState] = dict(state.stages)
        self.owner = {
            p: (s, k)
            for s, st in state.stages.items()
            for k, r in st.datums.items()
            for p in r.outputs
        }
        self.attempts: list[Attempt] = []
        self.counts: dict[str, int] = {}
        self.stop = threading.Event()
        self.slots = Slots(settings.parallel)  # commands at once; units in hand: AHEAD times
        self.pause = breaks.Pause(settings.breaks, self.stop)
        self.keeper = kept.Keeper(settings.keep, pipeline.root, say=self.progress.note)
        self._handles: dict[int, tuple[Executor, Handle]] = {}
        self._lock = threading.Lock()
        self._seen: dict[Path, inplace.Seen] = {}  # per working folder, before its command
        self.collector = Collector(pipeline, env.name, run.id, self.cas, self.repo, self.files)
        self._last_checkpoint = time.monotonic()
        self._dirty = False
        self.disowned = False  # the lease went to another run: commit nothing more
        self.blocked = Blocked()  # what rejected datums keep their downstream from
        self.order: dict[str, int] = {}  # stage → its place in the run, for the record

    # -- the run ---------------------------------------------------------------------
    def execute(self, order: list[str], planner: Planner, early: Early | None = None) -> RunRecord:
        """Run every stage in `order`, datums flowing across stages (run/flow.py); returns
        the final run record (already committed). `early`: the plan of a stage made before
        its turn, to start its datums whose upstream datums have committed (None: none)."""
        failed, ended = False, False
        self.order = {name: i for i, name in enumerate(order)}
        try:
            with ThreadPoolExecutor(max_workers=self.slots.parallel * AHEAD) as pool:
                try:
                    failed = not Flow(self, pool, order, planner, early).run()
                    ended = True
                finally:
                    if not ended:  # an error on its way out: stop what runs, first
                        self.interrupt()
        finally:
            if not ended:  # ... then record what finished, as a failed run
                with contextlib.suppress(KiteError, OSError):
                    self.checkpoint(final="failed")
        status: RunStatus = (
            "paused"
            if self.pause.why
            else ("interrupted" if self.stop.is_set() else "failed" if failed else "succeeded")
        )
        return self.checkpoint(final=status)

    def interrupt(self) -> None:
        """Cancel attempts in flight and start nothing new (called from a signal handler)."""
        self.stop.set()
        with self._lock:
            handles = list(self._handles.values())
        for executor, handle in handles:
            executor.cancel(handle)

    def begin_stage(self, stage: Stage, work: StagePlan) -> list[DatumPlan]:
        """A stage's turn has come: what of its plan is to do (its progress started)."""
        todo = [d for d in work.datums if d.action not in ("unchanged", "pending", "wait")]
        self.blocked.spread(stage, work.datums, self._records(stage.name))
        if todo:
            self.progress.start(stage.name, len(todo))
        return todo

    def end_stage(self, stage: Stage, work: StagePlan, ok: bool, summary: str | None) -> None:
        """Every datum of a stage was merged: its definition is recorded if all went well."""
        if summary is not None:
            self.progress.finish(stage.name, summary)
        if ok and not self.stop.is_set():
            current = self.stages.get(stage.name, StageState(definition=work.definition))
            since = work.waiting_since  # None once its trigger let it run
            if work.held is None and any(d.action == "wait" for d in work.datums):
                since = current.waiting_since  # a saved plan does not say when it began
            self.stages[stage.name] = dataclasses.replace(
                current, definition=work.definition, parts=dict(work.parts), waiting_since=since
            )
            self._dirty = True

    def settle_without_running(
        self, stage: Stage, todo: Sequence[DatumPlan]
    ) -> tuple[bool, list[Job]]:
        """Merge the datums no command runs for (held back, cached, restored, deleted,
        skipped); the jobs left to run, and whether all merged went well."""
        ok, jobs = True, []
        for datum in todo:
            job = Job(stage, datum)
            held = self.blocked.why(stage, datum)
            if held is not None:
                ok &= self._hold(job, held)
            elif datum.action in ("restore", "cached") and (bad := self._untrusted(datum)):
                replanned, why = trust.rerun(datum, bad)
                self.progress.note(f"{stage.name} {datum.id or '(whole)'}: {why}")
                jobs.append(Job(stage, replanned))
                continue
            elif datum.action != "run":
                self.merge(Done(job, [instant(job)], None))
            else:
                jobs.append(job)
                continue
            self.progress.advance(stage.name)
        return ok, jobs

    def _untrusted(self, datum: DatumPlan) -> list[str]:
        return trust.untrusted(datum, placed=self.files, root=self.root, cas=self.cas)

    # -- one datum (or a batch of them) ----------------------------------------------
    def unit(
        self, jobs: list[Job], lane: Lane, fp: str, via: views.Source | None = None
    ) -> list[Done]:
        """One datum with its retries (or iterations), or (`batch: N`) several in units;
        its views from `via` (held results, run/overlay.py) or the data root."""
        if via is None:
            results = repeating.run(self, lane, jobs, fp)
        else:  # started early on held results: never a `repeat:` stage
            results = batching.run_batch(repeating.Through(self, via), lane, jobs)
        return [Done(j, r.attempts, r.outputs, r.error) for j, r in zip(jobs, results, strict=True)]

    def prepare_unit(
        self,
        lane: Lane,
        jobs: Sequence[Job],
        numbers: Sequence[int],
        via: views.Source | None = None,
    ) -> list[tuple[Task, views.Workspace]]:
        """The tasks of one unit, their folders made; views from `via` or the data root."""
        pairs = zip(jobs, numbers, strict=True)
        work = [Work(j.stage, j.key, j.fingerprint, n, j.plan.files) for j, n in pairs]
        made = lane.tasks(self.pipeline, self.env, self.run.id, work)
        for _, workspace in made:
            self.guard.check(workspace.folder, doing="prepare a working folder at")
        spaces = [(w, job.plan.files) for (_, w), job in zip(made, jobs, strict=True)]
        tasks = lane.prepare(
            [t for t, _ in made], spaces, data_root=via or self.root, read_from=self.read_from
        )
        for _, w in made:
            self._seen[w.folder] = inplace.snapshot(w.inputs, w.folder)
        return [(task, w) for task, (_, w) in zip(tasks, made, strict=True)]

    def run_unit(self, lane: Lane, tasks: Sequence[Task]) -> list[Outcome]:
        """Submit the tasks as one unit and wait for each; Ctrl-C cancels them."""
        executor = lane.executor
        with self.slots.held(tasks[0].stage):
            if self.stop.is_set():  # stopped while this unit waited for its slot: start nothing
                return [_not_started(task) for task in tasks]
            handles = lane.submit(tasks)
            with self._lock:
                self._handles.update({id(h): (executor, h) for h in handles})
                late = self.stop.is_set()  # Ctrl-C came while these were being created
            if late:
                for handle in handles:
                    executor.cancel(handle)
            try:
                return [executor.wait(handle) for handle in handles]
            finally:
                with self._lock:
                    for handle in handles:
                        self._handles.pop(id(handle), None)

    def settle(
        self, lane: Lane, job: Job, number: int, workspace: views.Workspace, outcome: Outcome
    ) -> tuple[Attempt, dict[str, dict[str, FileEntry]] | None, Outcome]:
        """An attempt that ended: its outputs ingested and accepted (or not), its record."""
        seen = self._seen.pop(workspace.folder, None)
        outcome, outputs, verdict = self.collector.collect(job, workspace, outcome, seen)
        if workspace.folder.exists():  # the datum's own folder: its next attempt starts anew
            lane.clear(workspace, job.stage)
        lane.release(workspace.folder)
        return self.record(lane, job, number, outcome, verdict=verdict), outputs, outcome

    def record(
        self, lane: Lane, job: Job, number: int, outcome: Outcome, *, verdict: Verdict = None
    ) -> Attempt:
        values = views.param_values(self.pipeline, job.stage)
        return attempt_of(
            job,
            number,
            outcome,
            executor=lane.executor.name,
            identity=lane.identity or job.stage.identity,
            log=self.repo.put(zlib.compress(outcome.log)) if outcome.log else None,
            params={p: values.get(p) for p in job.stage.params},
            verdict=verdict,
        )


def _not_started(task: Task) -> Outcome:
    """The outcome of an attempt the run stopped before it started (it was in hand)."""
    now = time.time()
    why = "cancelled by kite before it started"
    return Outcome(None, now, now, reason="cancelled", retryable=False, detail=why)
