"""What an attempt that ended leaves: its outputs checked, stored, accepted or not.

An attempt fails for good (not retried: the same command on the same input would do the
same again) when it changed its inputs in place, when an output holds what kite does not
store (run/unfit.py), or when a declared output is empty; gates may reject it. Accepted
outputs go into the run cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kitecli.executors.base import Outcome
from kitecli.history import ledger
from kitecli.history.state import RunCacheEntry
from kitecli.run import accept, inplace, views
from kitecli.run.jobs import Job, Verdict
from kitecli.run.unfit import unfit, unfit_reason
from kitecli.scan.manifest import FileEntry
from kitecli.spec import gates
from kitecli.spec.model import Pipeline
from kitecli.store.blobs import CAS
from kitecli.store.repo import Repo

Outputs = dict[str, dict[str, FileEntry]]


@dataclass(frozen=True)
class Collector:
    """Judges the attempts of one run: `files` are the data root's files, by path."""

    pipeline: Pipeline
    env: str
    run_id: str
    cas: CAS
    repo: Repo
    files: Mapping[str, FileEntry]

    @cached_property
    def root(self) -> Path:
        """The project's folder resolved, once a run: changed inputs are named under it."""
        return self.pipeline.root.resolve()

    def collect(
        self, job: Job, workspace: views.Workspace, outcome: Outcome, seen: inplace.Seen | None
    ) -> tuple[Outcome, Outputs | None, Verdict]:
        """The outcome, the outputs (None: not to be merged) and what became of an attempt
        that is not a success although its command exited 0 (failed, rejected by a gate).
        `seen`: what the input views led to before the command ran (None: not known)."""
        if seen is not None:
            found, count = inplace.changed(seen, workspace.inputs, workspace.folder, root=self.root)
            if count:
                return _failed(outcome, inplace.reason(found, count))
        if not outcome.ok:
            return outcome, None, None
        found = unfit(workspace.outputs)
        if found:
            return _failed(outcome, unfit_reason(found))
        move = not gates.reads_files(job.stage)  # a schema or validator reads them after
        outputs = {
            name: ingest(self.cas, scratch, move=move)
            for name, scratch in workspace.outputs.items()
        }
        empty = accept.empty_output(job.stage, outputs)
        if empty is not None:
            strays = views.written_into_inputs(workspace, job.stage, self.files)
            return _failed(outcome, accept.empty_reason(empty, *strays))
        rejected = self._gate(job, workspace, outputs) if gates.gated(job.stage) else None
        if rejected is not None:  # not merged, not in the run cache
            return dataclasses.replace(outcome, reason=rejected, retryable=False), None, "rejected"
        ledger.cache_put(self.repo, RunCacheEntry(job.fingerprint, outputs, self.run_id))
        return outcome, outputs, None

    def _gate(self, job: Job, workspace: views.Workspace, outputs: Outputs) -> str | None:
        """Why the stage's `accept:` checks reject the outputs; None: accepted."""
        names = views.values(
            pipeline=self.pipeline,
            stage=job.stage,
            env=self.env,
            run_id=self.run_id,
            key=job.key,
            workspace=workspace,
            files=job.plan.files,
        )
        datum = accept.Datum.of(
            self.pipeline, job.stage, job.key, self.env, outputs, workspace.outputs, names
        )
        return accept.gate(datum, root=self.pipeline.root, run_id=self.run_id, store=self.cas)


def _failed(outcome: Outcome, reason: str) -> tuple[Outcome, None, Verdict]:
    return dataclasses.replace(outcome, reason=reason, retryable=False), None, "failed"


def ingest(cas: CAS, scratch: Path, *, move: bool) -> dict[str, FileEntry]:
    """Every file of an output's scratch folder into the store, by relative path. Links
    (to files of the same output: see `unfit`) are read before any file is moved away."""
    found = sorted(p for p in scratch.rglob("*") if p.is_file())
    links = [p for p in found if p.is_symlink()]
    stored = {p: cas.ingest(p, move=False) for p in links}
    stored |= {p: cas.ingest(p, move=move) for p in found if p not in stored}
    return {p.relative_to(scratch).as_posix(): stored[p] for p in found}
