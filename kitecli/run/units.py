"""What the flow of datums (run/flow.py) moves and keeps: units of work, the stages whose
turn came, the keys of datums still to merge; and what it needs of the runner."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kitecli.history.records import RunRecord
from kitecli.history.state import EnvState
from kitecli.plan.blocking import Blocked
from kitecli.plan.decide import DatumPlan
from kitecli.plan.plan import StagePlan
from kitecli.run import breaks
from kitecli.run.jobs import Done, Job, Progress, Settings
from kitecli.run.lanes import Lane
from kitecli.run.slots import Slots
from kitecli.run.views import Source
from kitecli.scan import manifest
from kitecli.scan.listing import Listing
from kitecli.spec.model import Pipeline, Stage
from kitecli.store.blobs import CAS
from kitecli.store.roots import Root


class Runs(Protocol):
    """What the flow needs of the runner: its state, and how a stage begins and ends."""

    pipeline: Pipeline
    files: Listing
    scanned: manifest.Manifest
    settings: Settings
    progress: Progress
    pause: breaks.Pause
    blocked: Blocked
    owner: dict[str, tuple[str, str]]
    counts: dict[str, int]
    lanes: Callable[[Stage], Lane]
    stop: threading.Event
    slots: Slots
    run: RunRecord
    cas: CAS
    root: Root

    def state(self) -> EnvState: ...
    def begin_stage(self, stage: Stage, work: StagePlan) -> list[DatumPlan]: ...
    def end_stage(self, stage: Stage, work: StagePlan, ok: bool, summary: str | None) -> None: ...
    def settle_without_running(
        self, stage: Stage, todo: Sequence[DatumPlan]
    ) -> tuple[bool, list[Job]]: ...
    def unit(
        self, jobs: list[Job], lane: Lane, fp: str, via: Source | None = None
    ) -> list[Done]: ...
    def merge(self, done: Done) -> bool: ...
    def maybe_checkpoint(self) -> None: ...


@dataclass(eq=False)
class Unit:
    """One datum (or a batch of them) of one stage, waiting for a slot or running."""

    stage: Stage
    jobs: list[Job]
    lane: Lane
    definition: str
    early: bool = False  # started before its stage's turn: its result is held
    dropped: bool = False  # its stage's plan did not decide it so: its result is not used
    done: list[Done] | None = None  # an early unit's result, held
    via: Source | None = None  # views from held results too (run/overlay.py)


@dataclass
class Open:
    """A stage whose turn came: its plan, and what of it is still to merge."""

    work: StagePlan
    shown: bool  # its progress was started
    ok: bool = True
    units: int = 0
    left: dict[str, Mapping[str, str]] = field(default_factory=dict)  # datum id → key
    counts: dict[str, int] = field(default_factory=dict)


NONE = Open(StagePlan("", "", {}), shown=False)


class Keys:
    """The keys of an upstream stage's datums still to merge: which downstream keys they
    may feed. One that shares no key field with them may read what any of them writes; one
    that does, what those agreeing with it on every shared field write."""

    def __init__(self, keys: Iterable[Mapping[str, str]]) -> None:
        self.keys = list(keys)
        sets = [frozenset(k) for k in self.keys]
        self.fields = frozenset.intersection(*sets) if sets else frozenset()
        self._on: dict[tuple[str, ...], set[tuple[str, ...]]] = {}

    def related(self, key: Mapping[str, str]) -> bool:
        """True when a datum of key `key` may read what one of these datums writes."""
        if not self.keys:
            return False
        common = tuple(sorted(self.fields & key.keys()))
        if not common:
            return True
        if common not in self._on:
            self._on[common] = {tuple(k[f] for f in common) for k in self.keys}
        return tuple(key[f] for f in common) in self._on[common]


def ancestors(name: str, upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Every stage `name` reads from, directly or through others, of the run's stages."""
    found: list[str] = []
    todo = list(upstream[name])
    while todo:
        up = todo.pop()
        if up not in found:
            found.append(up)
            todo.extend(upstream.get(up, ()))
    return found
