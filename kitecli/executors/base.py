"""The protocol every executor implements, and the values that cross it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kitecli.spec.model import Environment, Resources, Stage


@dataclass(frozen=True)
class Task:
    """One attempt of one datum (or, with `batch`, the first of several) to run."""

    run_id: str
    pipeline: str  # pipeline name
    env: Environment
    stage: Stage
    key: Mapping[str, str]  # the datum key
    fingerprint: str
    attempt: int  # 1 for the first attempt
    argv: tuple[str, ...]  # the command with every {{ }} substituted
    environ: Mapping[str, str]  # KITE_* variables and the stage's env, nothing inherited
    workdir: str  # where the command starts: the project folder (local) or "/" (pod)
    inputs: Mapping[str, str] = field(default_factory=dict)  # name → input view path or URL
    outputs: Mapping[str, str] = field(default_factory=dict)  # name → scratch path or URL
    # a pod's datum folder on the volume, mounted where its argv says ("": no such mount)
    folder: str = ""
    # A unit (pod) of the same name left by an earlier apply: adopt it (True: it was
    # killed while this very attempt ran) or replace it (False: a kept pod of old work).
    adopt: bool = True
    asks: Resources | None = None  # what this attempt asks for (None: the stage's)

    @property
    def resources(self) -> Resources:
        """What this attempt asks for: grown by `resources.on_retry` on a retry."""
        return self.stage.resources if self.asks is None else self.asks


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended. exit_code None: it never ran to an exit (see reason)."""

    exit_code: int | None
    started: float  # unix time
    ended: float
    log: bytes = b""  # stdout and stderr, interleaved as written
    reason: str | None = None  # "timeout", "cancelled", "OOMKilled", "Evicted", ...
    retryable: bool = True  # False where retrying cannot help (bad image, invalid spec)
    where: str = ""  # pid or pod name
    node: str = ""  # host or node name
    image_digest: str | None = None
    detail: str = ""  # why it ended that way, in plain words (also the log's last line)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Handle(Protocol):
    """What `submit` returns; executors keep their own state behind it."""

    @property
    def task(self) -> Task: ...


class Executor(Protocol):
    """Runs task attempts. Thread-safe: the runner calls it from several threads."""

    name: str

    def submit(self, task: Task) -> Handle:
        """Start the attempt and return at once."""

    def wait(self, handle: Any) -> Outcome:
        """Block until the attempt ends (timeouts enforced by the executor)."""

    def cancel(self, handle: Any) -> None:
        """Stop the attempt if it still runs; `wait` then returns reason "cancelled"."""

    def close(self) -> None:
        """Release what the executor holds (connections, pods it may delete)."""


@runtime_checkable
class BatchExecutor(Executor, Protocol):
    """An executor that can run several datums of one stage in one unit (`batch: N`)."""

    def submit_batch(self, tasks: Sequence[Task]) -> Sequence[Handle]:
        """Start `tasks` (same stage, same attempt) to run in order; one handle per task.

        Each handle's `wait` gives that datum's own Outcome. After a datum fails, the
        datums after it do not run: their outcomes have reason "not-run" (retryable), to
        be planned again.
        """


@runtime_checkable
class Adopting(Executor, Protocol):
    """An executor whose units outlive kite (pods): a re-run can find and adopt them."""

    def exists(self, tasks: Sequence[Task]) -> bool:
        """True when a live unit running exactly `tasks` exists (left by a killed apply)."""


@runtime_checkable
class Preflight(Executor, Protocol):
    """An executor that can check, before anything runs, that the stages can run on it."""

    def preflight(self, identities: Sequence[str], *, env: str) -> None:
        """Raise a KiteError naming what is missing (rights, service accounts)."""
