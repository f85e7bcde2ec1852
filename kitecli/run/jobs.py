"""What the runner and its batches share: a datum's job, how it ended, the run's settings,
and where progress is reported."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from kitecli.history.records import Attempt
from kitecli.run.breaks import Breakpoints
from kitecli.scan.manifest import FileEntry
from kitecli.spec.resources import asked, for_attempt

if TYPE_CHECKING:
    from kitecli.executors.base import Outcome
    from kitecli.history.state import EnvState
    from kitecli.plan.decide import DatumPlan
    from kitecli.plan.plan import StagePlan
    from kitecli.scan.manifest import Manifest
    from kitecli.spec.model import Stage

# Plans one stage against the state and the data as committed so far in this run.
Planner = Callable[[str, "EnvState", "Manifest"], "StagePlan"]
# Plans one stage before its turn, to start the datums of it whose inputs are committed
# (None: this stage never starts early, e.g. a saved plan decided it).
Early = Callable[[str, "EnvState", "Manifest"], "StagePlan | None"]
Outputs = dict[str, dict[str, FileEntry]]  # output name → relative path → entry
Verdict = Literal["failed", "rejected"] | None  # an attempt that exited 0 but did not succeed
NOT_RUN = "not-run"  # a datum of a batch that did not run: its attempt is not used up
# what an attempt of a datum no command runs for is recorded as
INSTANT_STATUS = {"cached": "cached", "restore": "restored", "delete": "deleted", "skip": "skipped"}


class Progress(Protocol):
    """Where the runner reports how far a stage has come (the CLI draws it)."""

    def start(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str) -> None: ...
    def finish(self, stage: str, summary: str) -> None: ...
    def ahead(self, stage: str, started: int, ended: int) -> None:
        """Datums of `stage` started before its turn (run/flow.py), and how many ended."""

    def note(self, message: str, *, dim: bool = False) -> None:
        """A line to show; `dim`: a command's own output, shown dimmed on a terminal."""


class Quiet:
    """Progress reported nowhere."""

    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str) -> None:
        pass

    def finish(self, stage: str, summary: str) -> None:
        pass

    def ahead(self, stage: str, started: int, ended: int) -> None:
        pass

    def note(self, message: str, *, dim: bool = False) -> None:
        pass


@dataclass(frozen=True)
class Settings:
    parallel: int
    scratch: Path  # working folders of this run's datums
    checkpoint_every: float = 30.0
    user: str = ""
    breaks: Breakpoints = field(default_factory=Breakpoints)  # where the run pauses
    keep: Path | None = None  # --keep-failed: where failed attempts' folders are kept


@dataclass(frozen=True)
class Job:
    """One datum of one stage, as the plan decided it."""

    stage: Stage
    plan: DatumPlan

    @property
    def key(self) -> Mapping[str, str]:
        return self.plan.key

    @property
    def fingerprint(self) -> str:
        return self.plan.fingerprint or ""


@dataclass
class Done:
    """How one job ended: its attempts, and its outputs when it succeeded."""

    job: Job
    attempts: list[Attempt]
    outputs: Outputs | None
    error: str | None = None


def attempt_of(
    job: Job,
    number: int,
    outcome: Outcome,
    *,
    executor: str,
    identity: str | None,
    log: str | None,
    params: Mapping[str, Any],
    verdict: Verdict = None,
) -> Attempt:
    """The record of attempt `number` of `job`, as its executor's outcome says it ended
    (`verdict`: what the runner made of a command that exited 0, when not a success)."""
    status: str
    if verdict is not None:
        status = verdict
    elif outcome.ok:
        status = "succeeded"
    elif outcome.reason in ("cancelled", NOT_RUN):
        status = outcome.reason
    else:
        status = "failed"
    return Attempt(
        stage=job.stage.name,
        key=dict(job.key),
        fingerprint=job.fingerprint,
        attempt=number,
        executor=executor,
        status=status,
        started=outcome.started,
        ended=outcome.ended,
        exit_code=outcome.exit_code,
        reason=outcome.reason,
        where=outcome.where,
        node=outcome.node,
        image=job.stage.image,
        image_digest=outcome.image_digest,
        identity=identity,
        log=log,
        params=dict(params),
        resources=asked(for_attempt(job.stage.resources, number)),
    )


def instant(job: Job) -> Attempt:
    """The record of a datum no command runs for: cached, restore, delete or skip."""
    now = time.time()
    action = job.plan.action
    return Attempt(
        stage=job.stage.name,
        key=dict(job.key),
        fingerprint=job.fingerprint,
        attempt=0,
        executor="none",
        status=INSTANT_STATUS.get(action, action),
        started=now,
        ended=now,
        reason="; ".join(job.plan.reasons) or None,
    )


def why(attempt: Attempt) -> str:
    """An attempt's failure in a few words."""
    if attempt.reason:
        return attempt.reason
    return f"exit {attempt.exit_code}" if attempt.exit_code is not None else "failed"
