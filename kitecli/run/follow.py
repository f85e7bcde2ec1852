"""`kite logs -f`: the output of a run's attempts as they write it, until the run ends; then
what the run stored of the attempts it did not see running (docs/debugging.md). A local
attempt is read from its capture (live.Tail), a pod's through the API server (podfollow)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kitecli.errors import UsageError
from kitecli.executors.live import LIVE, Running, Tail, running

if TYPE_CHECKING:
    from kitecli.executors.podfollow import Clients
from kitecli.history import ledger
from kitecli.history.project import Project
from kitecli.history.records import Attempt, RunRecord, find_run, key_matches
from kitecli.history.state import key_id

POLL = 0.2  # seconds between two reads of the attempts' output
LOOK = 1.0  # seconds between two looks at whether the run still holds its lease
SETTLE = 5.0  # seconds the attempts' streams get to end once the run ended


class Reader(Protocol):
    """What follows one attempt: live.Tail (local) or podfollow.PodTail (a pod)."""

    @property
    def ended(self) -> bool: ...
    @property
    def complete(self) -> bool: ...  # it read the whole output
    def read(self) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Wanted:
    """Which attempts to show: of one stage (a matrix stage's base name: each variant), and
    of the datums whose keys have these fields."""

    stage: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def matches(self, stage: str, key: Mapping[str, str]) -> bool:
        if self.stage is not None and self.stage not in (stage, stage.split("[")[0]):
            return False
        return key_matches(key, self.fields)


def header(stage: str, key: Mapping[str, str], attempt: int, how: str) -> str:
    return f"==> {stage} {key_id(key) or '(whole)'} attempt {attempt} ({how}) <=="


def live_run(project: Project, wanted: str) -> str | None:
    """The id of the run `wanted` names (`last`, an id or a prefix) if it runs now in the
    environment (holds its lease); None when it names a run that ended."""
    holder = project.repo.lease_holder(project.env.name)
    if holder is None:
        return None
    live = holder.holder
    if wanted == "last" or live.startswith(wanted):
        recorded = [r.id for r in ledger.runs(project.repo, project.env.name)]
        newer = wanted == "last" and any(r > live for r in recorded)
        return None if newer else live
    return None


@dataclass
class Follower:
    """Follows one running run; writes each attempt's output under a header."""

    project: Project
    run_id: str
    wanted: Wanted
    write: Callable[[str | bytes], None]
    say: Callable[[str], None] = lambda _message: None
    tails: dict[tuple[str, str, int], tuple[Running, Reader]] = field(default_factory=dict)
    seen: set[tuple[str, str, int]] = field(default_factory=set)  # followed while running
    passed: set[tuple[str, str, int]] = field(default_factory=set)  # could not be followed
    shown: tuple[str, str, int] | None = None
    pods: Clients | None = None

    def until_the_end(self) -> None:
        """Follow until the run no longer holds the environment's lease, then let the
        attempts' streams end (SETTLE seconds at most)."""
        looked = time.monotonic()
        try:
            while True:
                self.step()
                if time.monotonic() - looked >= LOOK:
                    looked = time.monotonic()
                    holder = self.project.repo.lease_holder(self.project.env.name)
                    if holder is None or holder.holder != self.run_id:
                        break
                time.sleep(POLL)
            settle = time.monotonic() + SETTLE
            while self.step() and time.monotonic() < settle:
                time.sleep(POLL)
        finally:
            for ident, (_, tail) in list(self.tails.items()):
                self._drop(ident, tail)
            if self.pods is not None:
                self.pods.close()

    def step(self) -> bool:
        """Find attempts that started, and write what each wrote since the last step; True
        while some attempt is still followed."""
        for found in running(self.project.pipeline.root / LIVE, self.run_id):
            known = found.ident in self.seen or found.ident in self.passed
            if not known and self.wanted.matches(found.stage, found.key):
                tail = self._open(found)
                (self.passed if tail is None else self.seen).add(found.ident)
                if tail is not None:
                    self.tails[found.ident] = (found, tail)
        for ident, (found, tail) in list(self.tails.items()):
            data = tail.read()
            if data:
                if self.shown != ident:
                    self.write(header(found.stage, found.key, found.attempt, "running") + "\n")
                    self.shown = ident
                self.write(data)
            if tail.ended:
                self._drop(ident, tail)
        return bool(self.tails)

    def _open(self, found: Running) -> Reader | None:
        if found.pod is None:
            return Tail(found.folder)
        if self.pods is None:
            from kitecli.executors.podfollow import Clients

            self.pods = Clients(self.say)
        return self.pods.tail(found)

    def _drop(self, ident: tuple[str, str, int], tail: Reader) -> None:
        """Stop following an attempt; one not read whole gets its stored output later."""
        tail.close()
        del self.tails[ident]
        if not tail.complete:  # not followed again: its stored output comes at the end
            self.seen.discard(ident)
            self.passed.add(ident)


def follow(
    project: Project,
    run_id: str,
    wanted: Wanted,
    *,
    write: Callable[[str | bytes], None],
    say: Callable[[str], None],
) -> RunRecord:
    """Follow the running run `run_id` to its end, then write the stored output of the
    attempts not seen running, and how each attempt ended; the run's final record."""
    say(
        f"following run {run_id}: each attempt's output as it is written, until the run "
        "ends (it holds the environment's lease until then); Ctrl-C stops following, "
        "not the run"
    )
    follower = Follower(project, run_id, wanted, write, say)
    follower.until_the_end()
    try:
        record = find_run(list(ledger.runs(project.repo, project.env.name)), run_id)
    except UsageError:
        raise UsageError(
            f"run {run_id} ended without a record: it was stopped before its first commit",
            hint="`kite apply` again runs what it did not finish",
        ) from None
    for text in ended(project, record, wanted, follower.seen):
        write(text)
    return record


def ended(
    project: Project, record: RunRecord, wanted: Wanted, seen: set[tuple[str, str, int]]
) -> Iterator[str | bytes]:
    """For each attempt of the finished run that `wanted` takes: how it ended, and its
    stored output when it was not seen running."""
    for attempt in record.attempts:
        if not wanted.matches(attempt.stage, attempt.key) or attempt.log is None:
            continue
        ident = (attempt.stage, key_id(attempt.key), attempt.attempt)
        if ident in seen:
            yield header(attempt.stage, attempt.key, attempt.attempt, _how(attempt)) + "\n"
            continue
        yield header(attempt.stage, attempt.key, attempt.attempt, attempt.status) + "\n"
        text = zlib.decompress(project.repo.get(attempt.log))
        yield text if text.endswith(b"\n") or not text else text + b"\n"


def _how(attempt: Attempt) -> str:
    code = "" if attempt.exit_code is None else f", exit {attempt.exit_code}"
    return f"ended: {attempt.status}{code}"
