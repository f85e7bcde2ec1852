"""Breakpoints of `kite apply`: `--break-before STAGE` and `--break-on-failure` pause the
run where they say, with everything before that point committed (docs/debugging.md)."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from kitecli.errors import UsageError
from kitecli.history.records import RunRecord
from kitecli.plan.plan import StagePlan
from kitecli.spec.model import Pipeline, Stage


@dataclass(frozen=True)
class Breakpoints:
    """Where the command line asked a run to pause."""

    before: tuple[str, ...] = ()  # stage names (a matrix stage's base name pauses each variant)
    on_failure: bool = False

    def options(self) -> dict[str, object]:
        """As the run record keeps them among its options."""
        found: dict[str, object] = {}
        if self.before:
            found["break_before"] = list(self.before)
        if self.on_failure:
            found["break_on_failure"] = True
        return found


def breakpoints(pipeline: Pipeline, before: tuple[str, ...], *, on_failure: bool) -> Breakpoints:
    """The breakpoints of the command line, each `--break-before` a stage of `pipeline`."""
    names = {n for s in pipeline.stages.values() for n in (s.name, s.base)}
    for name in before:
        if name not in names:
            raise UsageError(
                f"--break-before {name}: no such stage in {pipeline.path.name}",
                hint="the stages are: " + ", ".join(sorted(pipeline.stages)),
            )
    return Breakpoints(before=before, on_failure=on_failure)


class Pause:
    """Whether the run paused, and why; pausing stops new work, and lets what runs finish."""

    def __init__(self, breaks: Breakpoints, stop: threading.Event) -> None:
        self.breaks = breaks
        self.stop = stop
        self.why: str | None = None

    def before(self, stage: Stage, work: StagePlan) -> bool:
        """True (the run pauses) when `stage` is a breakpoint and has something to do."""
        if stage.name not in self.breaks.before and stage.base not in self.breaks.before:
            return False
        if not work.changes:
            return False
        return self._pause(f"before stage {stage.name}")

    def failed(self, stage: str, datum: str, status: str) -> None:
        """A datum failed for good (or was rejected): with --break-on-failure, pause."""
        if self.breaks.on_failure and self.why is None:
            self._pause(f"after {stage} {datum or '(whole)'} {status}")

    def _pause(self, why: str) -> bool:
        self.why = why
        self.stop.set()  # nothing new starts; attempts in flight run to their end
        return True


def advice(record: RunRecord, *, env: str) -> list[str]:
    """What to tell the user of a paused run: why, how to look, how to go on."""
    again = _without_breaks(record.argv[1:])
    return [
        f"kite: run {record.id} paused {record.paused}; everything before it is committed",
        f"  inspect:  kite show {record.id} --env {shlex.quote(env)}   "
        f"(kite logs {record.id}, kite debug STAGE --datum FIELD=VALUE)",
        f"  continue: {shlex.join(['kite', *again])}",
    ]


def _without_breaks(argv: Sequence[str]) -> list[str]:
    """`argv` without its breakpoint options, so that running it again goes on."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--break-before":
            skip = True
        elif arg != "--break-on-failure" and not arg.startswith("--break-before="):
            kept.append(arg)
    return kept
