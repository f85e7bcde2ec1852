"""Merge what datums made into the data root and the run's state; commit checkpoints."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from kitecli.env import guard
from kitecli.history import ledger, tables
from kitecli.history.records import Attempt, RunRecord, RunStatus
from kitecli.history.state import DatumRecord, DatumStatus, EnvState, StageState
from kitecli.plan.blocking import Blocked
from kitecli.plan.decide import recorded_inputs
from kitecli.run import breaks, failures
from kitecli.run.jobs import NOT_RUN, Done, Job, Progress, Settings, instant
from kitecli.scan.listing import Listing
from kitecli.scan.manifest import FileEntry
from kitecli.spec.model import Environment, Pipeline
from kitecli.store.repo import Ref, Repo
from kitecli.store.roots import Root


class Merger:
    """The in-memory state of one run: datum records, file owners, counts, attempts; what
    merges a finished datum into it and the data root, and commits it."""

    pipeline: Pipeline
    env: Environment
    repo: Repo
    run: RunRecord
    ref: Ref
    files: Listing
    settings: Settings
    progress: Progress
    guard: guard.Guard
    local: Path | None
    root: Root
    stages: dict[str, StageState]
    owner: dict[str, tuple[str, str]]
    attempts: list[Attempt]
    counts: dict[str, int]
    stop: threading.Event
    pause: breaks.Pause
    blocked: Blocked
    disowned: bool
    order: dict[str, int]  # stage → its place in the run: the record lists attempts so
    _dirty: bool
    _last_checkpoint: float

    def _records(self, stage: str) -> Mapping[str, DatumRecord]:
        return self.stages.get(stage, StageState(definition="")).datums

    def _hold(self, job: Job, why: str) -> bool:
        """Do not run a datum whose upstream was rejected; its committed record stays."""
        attempt = instant(job)
        self.attempts.append(dataclasses.replace(attempt, status="blocked", reason=why))
        previous = self._records(job.stage.name).get(job.plan.id)
        self.blocked.add(job.stage, previous.outputs if previous else {}, why)
        self._dirty = True
        return self._count("blocked", False)

    # -- merging results into the data root and the state ---------------------------
    def merge(self, done: Done) -> bool:
        job, stage = done.job, done.job.stage
        action, kid = job.plan.action, job.plan.id
        previous = self.stages.get(stage.name, StageState(definition="")).datums.get(kid)
        owned = dict(previous.outputs) if previous else {}
        self.attempts.extend(done.attempts)
        self._dirty = True
        if action in ("delete", "skip"):
            self._remove(owned, keep=set())
            record = None if action == "delete" else self._datum(job, "skipped", {})
            self._set_record(stage.name, kid, record)
            return self._count("deleted" if action == "delete" else "skipped", True)
        if action == "restore":
            self._place(job.plan.outputs or owned)
            return self._count("restored", True)
        if action == "cached":
            placed = dict(job.plan.outputs)
        elif done.outputs is not None:
            placed = placed_by(done)
        else:
            return self._failed(done, owned)
        clash = self._clash(stage.name, kid, placed)
        if clash is not None:
            return self._clashed(job, owned, clash)
        self._remove(owned, keep=set(placed))
        self._place(placed)
        self.owner.update(dict.fromkeys(placed, (stage.name, kid)))
        self._set_record(stage.name, kid, self._datum(job, "succeeded", placed))
        return self._count("cached" if action == "cached" else "succeeded", True)

    def _failed(self, done: Done, owned: Mapping[str, FileEntry]) -> bool:
        """A datum that ran and failed, or whose outputs a gate rejected: its earlier outputs
        stay, and what reads a rejected datum's outputs waits."""
        job, stage, kid = done.job, done.job.stage, done.job.plan.id
        if not done.attempts or done.attempts[-1].status in ("cancelled", NOT_RUN):
            # stopped by Ctrl-C (or a lost lease) before it ended: its record stays as it was
            self.progress.note(f"{stage.name} {kid or '(whole)'}: cancelled")
            return self._count("cancelled", False)
        status: DatumStatus = "failed"
        if done.attempts and done.attempts[-1].status == "rejected":
            status = "rejected"
            self.blocked.add(stage, owned, f"upstream {stage.name} {kid or '(whole)'} rejected")
        self._set_record(stage.name, kid, self._datum(job, status, owned))
        self.progress.note(f"{stage.name} {kid or '(whole)'}: {status} ({done.error})")
        for line, output in failures.explain(self.repo, self.run.id, done.attempts[-1]):
            self.progress.note(line, dim=output)
        self.pause.failed(stage.name, kid, status)
        return self._count(status, False)

    def _clashed(self, job: Job, owned: Mapping[str, FileEntry], clash: str) -> bool:
        """A datum whose outputs another datum owns: failed, nothing of it merged."""
        self.attempts[-1] = dataclasses.replace(self.attempts[-1], status="failed", reason=clash)
        self._set_record(job.stage.name, job.plan.id, self._datum(job, "failed", owned))
        self.progress.note(clash)
        return self._count("failed", False)

    def _datum(
        self, job: Job, status: DatumStatus, outputs: Mapping[str, FileEntry]
    ) -> DatumRecord:
        return record(job, status, outputs, self.run.id)

    def _clash(self, stage: str, kid: str, placed: Mapping[str, FileEntry]) -> str | None:
        """Why the files of datum `kid` cannot go where they would, if they cannot."""
        for path in placed:
            other = self.owner.get(path, (stage, kid))
            if other != (stage, kid):
                return (
                    f"collision: {path} is written by {stage} datum {kid or '(whole)'} "
                    f"and {other[0]} datum {other[1] or '(whole)'}"
                )
        return None

    def _place(self, files: Mapping[str, FileEntry]) -> None:
        for path, entry in files.items():
            if self.files.get(path) == entry and self.root.holds(path):
                continue
            if self.local is not None:
                self.guard.check(self.local / path, doing="materialise")
            self.root.place(path, entry)
            self.files[path] = entry

    def _remove(self, files: Mapping[str, FileEntry], *, keep: set[str]) -> None:
        for path in files:
            if path in keep:
                continue
            if self.local is not None:
                self.guard.check(self.local / path, doing="remove")
            self.root.remove(path)
            self.files.pop(path, None)
            self.owner.pop(path, None)

    def _set_record(self, stage: str, kid: str, record: DatumRecord | None) -> None:
        current = self.stages.get(stage, StageState(definition=""))
        datums = tables.updated(current.datums, kid, record)  # copies one shard, not all
        self.stages[stage] = dataclasses.replace(current, datums=datums)

    def _count(self, what: str, ok: bool) -> bool:
        self.counts[what] = self.counts.get(what, 0) + 1
        return ok

    # -- commits ---------------------------------------------------------------------
    def state(self) -> EnvState:
        return EnvState(
            env=self.env.name,
            commit=self.ref.commit,
            pipeline=self.pipeline.digest,
            stages=dict(self.stages),
        )

    def maybe_checkpoint(self) -> None:
        if (
            self._dirty
            and time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_every
        ):
            self.checkpoint()

    def _in_order(self) -> list[Attempt]:
        """The attempts stage by stage in the run's order, each stage's as they ended (datums
        of several stages run at once; the record reads as a run stage by stage)."""
        last = len(self.order)
        return sorted(self.attempts, key=lambda a: self.order.get(a.stage, last))

    def checkpoint(self, final: RunStatus | None = None) -> RunRecord:
        """Commit what finished so far (and, with `final`, close the run record)."""
        record = dataclasses.replace(
            self.run,
            status=final or "running",
            ended=time.time() if final else None,
            counts=dict(sorted(self.counts.items())),
            attempts=tuple(self._in_order()),
            paused=self.pause.why,
        )
        if (self._dirty or final) and not self.disowned:
            self.guard.check(self.pipeline.root / ledger.LOCK_FILE, doing="rewrite")
            commit, self.ref = ledger.commit(
                self.repo,
                env=self.env.name,
                expected=self.ref,
                state=self.state(),
                run=record,
                pipeline=self.pipeline.digest,
                user=self.settings.user,
                message=f"{'apply' if final else 'checkpoint'} {self.run.id}: {final or 'running'}",
            )
            ledger.write_lock(
                self.pipeline, self.state(), self.files, commit=commit, scope=self.order
            )
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        return record


def placed_by(done: Done) -> dict[str, FileEntry]:
    """Where a datum that succeeded puts its outputs: data-root path → entry."""
    stage = done.job.stage
    return {
        f"{stage.output(name).path}/{rel}": entry
        for name, files in (done.outputs or {}).items()
        for rel, entry in files.items()
    }


def record(
    job: Job, status: DatumStatus, outputs: Mapping[str, FileEntry], run: str
) -> DatumRecord:
    """The record a datum gets when it is merged."""
    return DatumRecord(
        key=dict(job.key),
        fingerprint=job.fingerprint,
        status=status,
        inputs=recorded_inputs(job.stage, job.plan.datum),
        outputs=dict(outputs),
        run=run,
    )
