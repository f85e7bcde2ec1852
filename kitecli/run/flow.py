"""Datums flow across stages: one pool of `--parallel` slots for the whole run, each stage
within its `concurrency` (run/slots.py: a slot holds a command; a unit is in hand a little
before its slot and after it, so `AHEAD` units per slot are started here, one with
`--parallel 1` or a breakpoint).

A stage's turn comes when every stage before it in the run's order has ended; it is then
planned against what is committed so far, exactly as a run stage by stage would plan it,
and that plan is what the run records and merges. Before its turn, a stage is planned
early (the same planner, on the data as committed so far) whenever there are free slots,
and each datum of it to `run` whose upstream datums have all committed starts at once:
upstream datums are matched on the key fields the two stages share (`each:` inputs that map
one to one by key), and a datum waits for its whole upstream stage when the stages share no
key field (`by:` groupings, whole-directory inputs) or when it reads a file an upstream
datum still running owns. An early datum's result is held until its stage's turn: it is
merged when the plan then made decides it with the same fingerprint, and dropped (the datum
runs as that plan says) when not, so results and records are those of a run stage by stage.
A stage whose upstream stage has not had its turn either is planned early on what that
stage's early datums hold (run/overlay.py), so datums flow down the whole chain.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from kitecli.plan.decide import DatumPlan
from kitecli.plan.plan import StagePlan
from kitecli.run import batching, overlay
from kitecli.run.jobs import Done, Early, Job, Planner
from kitecli.run.lanes import Lane
from kitecli.run.slots import AHEAD
from kitecli.run.units import NONE, Keys, Open, Runs, Unit, ancestors
from kitecli.spec.graph import Graph
from kitecli.spec.model import Stage

T = TypeVar("T")
ADOPTABLE = ("run", "cached")  # `cached`: the early run itself put its fingerprint in the cache


class Flow:
    """Runs the stages of `order`: each planned at its turn, datums started when ready."""

    def __init__(
        self,
        runner: Runs,
        pool: ThreadPoolExecutor,
        order: Sequence[str],
        planner: Planner,
        early: Early | None,
    ) -> None:
        self.r, self.pool, self.order, self.planner = runner, pool, list(order), planner
        settings = runner.settings
        breaking = settings.breaks.before or settings.breaks.on_failure
        self.early = None if breaking or settings.keep is not None else early
        graph = Graph.of(runner.pipeline.stages)
        chosen = set(order)
        self.upstream = {n: [u for u in graph.upstream[n] if u in chosen] for n in order}
        self.ancestors = {n: ancestors(n, self.upstream) for n in order}
        self.plans: dict[str, StagePlan] = {}  # each stage's last plan made early
        self.downstream = {n: [d for d in graph.downstream[n] if d in chosen] for n in order}
        self.turn = 0  # index in `order` of the next stage whose turn is to come
        self.open: dict[str, Open] = {}
        self.ended: set[str] = set()
        self.queue: deque[Unit] = deque()  # the units of the stage whose turn it is
        self.waiting: list[Unit] = []  # early units waiting for a slot (a few at most)
        self.running: dict[Future[list[Done]], Unit] = {}
        self.load: dict[str, int] = {}  # units waiting or running, per stage
        self.busy: dict[str, int] = {}  # units running, per stage
        self.after: dict[str, float] = {}  # when a stage may next be planned early
        self.ahead: dict[str, dict[str, Unit]] = {}  # early units by stage and datum id
        self.fresh: set[str] = set(order)  # stages whose early plan may have changed
        self.failed = False
        self.halted = False  # paused before a stage
        # units in hand per slot: one, where a datum must not start before the one ahead of
        # it ended (`--parallel 1`: strictly one after the other, retries first; a
        # breakpoint: nothing after the datum it pauses on)
        self.ahead_of_slots = AHEAD if runner.slots.parallel > 1 and not breaking else 1
        self.width = runner.slots.parallel * self.ahead_of_slots  # units in hand at once

    def run(self) -> bool:
        """Run to the end (or until stopped); True when every stage went well."""
        while True:
            self._next_turns()
            self._look_ahead()
            self._pump()
            if not self.running:
                if self.queue or self.waiting:
                    continue
                if self.halted or self.r.stop.is_set() or self.turn >= len(self.order):
                    break
                continue
            finished, _ = wait(list(self.running), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                self._finished(future)
            self.r.maybe_checkpoint()
        return not self.failed

    # -- turns -----------------------------------------------------------------------
    def _next_turns(self) -> None:
        """Plan each stage whose turn has come (all before it in the order ended)."""
        r = self.r
        while self.turn < len(self.order) and not self.halted and not r.stop.is_set():
            if any(n not in self.ended for n in self.order[: self.turn]):
                return
            name = self.order[self.turn]
            stage = r.pipeline.stages[name]
            work = self.planner(name, r.state(), r.files.manifest(like=r.scanned))
            if r.pause.before(stage, work):
                self.halted = True
                return
            self.turn += 1
            self._begin(stage, work)

    def _begin(self, stage: Stage, work: StagePlan) -> None:
        """A stage's turn: merge what needs no command, adopt early units, queue the rest."""
        r = self.r
        todo = r.begin_stage(stage, work)
        opened = Open(work, shown=bool(todo))
        self.open[stage.name] = opened
        held, running, rest = self._adopt(stage, todo)
        ok, jobs = self._counted(opened, lambda: r.settle_without_running(stage, rest))
        opened.ok = ok
        for done in held:
            self._merge(opened, done)
        for unit in running:
            unit.early = False
            opened.units += 1
            if unit in self.waiting:  # not started yet: it starts as the turn's units do
                self.waiting.remove(unit)
                self.queue.append(unit)
        opened.left.update((j.plan.id, j.key) for u in running for j in u.jobs)
        if jobs:
            lane = r.lanes(stage)
            for group in batching.chunks(jobs, stage.batch if lane.batches else 1):
                self._enqueue(Unit(stage, group, lane, work.definition))
                opened.units += 1
            opened.left.update((j.plan.id, j.key) for j in jobs)
        if opened.units == 0:
            self._end(stage)

    def _adopt(
        self, stage: Stage, todo: Sequence[DatumPlan]
    ) -> tuple[list[Done], list[Unit], list[DatumPlan]]:
        """The stage's early units its plan decides alike: results held, units still
        running, and the datums left to settle; the others are dropped."""
        ahead = self.ahead.pop(stage.name, {})
        held: list[Done] = []
        running: list[Unit] = []
        rest: list[DatumPlan] = []
        for datum in todo:
            unit = ahead.get(datum.id)
            if unit is None or not self._alike(stage, datum, unit):
                rest.append(datum)
                continue
            del ahead[datum.id]
            if unit.done is not None:
                held += unit.done
            else:
                running.append(unit)
        for unit in ahead.values():
            self._drop(unit)
        return held, running, rest

    def _alike(self, stage: Stage, datum: DatumPlan, unit: Unit) -> bool:
        early = unit.jobs[0].plan
        return (
            datum.action in ADOPTABLE
            and datum.fingerprint is not None
            and datum.fingerprint == early.fingerprint
            and self.r.blocked.why(stage, datum) is None
        )

    def _drop(self, unit: Unit) -> None:
        if unit in self.waiting:
            self.waiting.remove(unit)
            self._unload(unit)
            return
        unit.dropped = True
        if unit.done is not None:
            self._dropped(unit)

    def _dropped(self, unit: Unit) -> None:
        job = unit.jobs[0]
        self.r.progress.note(
            f"{job.stage.name} {job.plan.id or '(whole)'}: started early on inputs that "
            "changed since; its stage's plan decides it again"
        )

    def _end(self, stage: Stage) -> None:
        """Every datum of a stage was merged."""
        opened = self.open.pop(stage.name)
        summary = None
        if opened.shown:
            summary = ", ".join(f"{n} {k}" for k, n in opened.counts.items() if n) or "nothing"
        self.r.end_stage(stage, opened.work, opened.ok, summary)
        self.failed |= not opened.ok
        self.ended.add(stage.name)
        self.fresh.update(self.downstream[stage.name])

    # -- slots -----------------------------------------------------------------------
    def _limit(self, stage: Stage) -> int:
        """How many units of `stage` may be in hand (run/slots.py holds their commands)."""
        return self.r.slots.limit(stage) * self.ahead_of_slots

    def _enqueue(self, unit: Unit) -> None:
        (self.waiting if unit.early else self.queue).append(unit)
        self.load[unit.stage.name] = self.load.get(unit.stage.name, 0) + 1

    def _unload(self, unit: Unit) -> None:
        self.load[unit.stage.name] -= 1

    def _pump(self) -> None:
        """Start the units waiting, the turn's first, as many as may be in hand."""
        if self.r.stop.is_set():  # what would start ends at once, as cancelled
            for unit in self.waiting:
                self._unload(unit)
                self.ahead.get(unit.stage.name, {}).pop(unit.jobs[0].plan.id, None)
            self.waiting.clear()
            while self.queue:
                self._submit(self.queue.popleft())
            return
        parallel = self.width
        while self.queue and len(self.running) < parallel:
            if self.busy.get(self.queue[0].stage.name, 0) >= self._limit(self.queue[0].stage):
                break
            self._submit(self.queue.popleft())
        for unit in list(self.waiting):
            if len(self.running) >= parallel:
                break
            if self.busy.get(unit.stage.name, 0) < self._limit(unit.stage):
                self.waiting.remove(unit)
                self._submit(unit)

    def _submit(self, unit: Unit) -> None:
        future = self.pool.submit(self._run, self.r.slots.ticket(unit.stage), unit)
        self.running[future] = unit
        self.busy[unit.stage.name] = self.busy.get(unit.stage.name, 0) + 1
        if unit.early:
            self._show_ahead(unit.stage.name)

    def _run(self, ticket: int, unit: Unit) -> list[Done]:
        """On a thread of the pool: the unit, its commands started in the order of tickets."""
        with self.r.slots.turn(ticket):
            return self.r.unit(unit.jobs, unit.lane, unit.definition, unit.via)

    def _show_ahead(self, name: str) -> None:
        """How many of a stage's datums started before its turn, and ended (progress)."""
        units = [u for u in self.ahead.get(name, {}).values() if u not in self.waiting]
        ended = sum(1 for u in units if u.done is not None)
        self.r.progress.ahead(name, len(units), ended)

    def _finished(self, future: Future[list[Done]]) -> None:
        unit = self.running.pop(future)
        self.busy[unit.stage.name] -= 1
        self._unload(unit)
        dones = future.result()
        if unit.dropped:
            self._dropped(unit)
            return
        if unit.early:
            unit.done = dones
            self._show_ahead(unit.stage.name)
            self.fresh.update(self.downstream[unit.stage.name])  # they may start on it
            return
        opened = self.open[unit.stage.name]
        for done in dones:
            self._merge(opened, done)
        opened.units -= 1
        self.fresh.update(self.downstream[unit.stage.name])
        if opened.units == 0:
            self._end(unit.stage)

    def _merge(self, opened: Open, done: Done) -> None:
        opened.ok &= self._counted(opened, lambda: self.r.merge(done))
        opened.left.pop(done.job.plan.id, None)
        self.r.progress.advance(done.job.stage.name)

    def _counted(self, opened: Open, merge: Callable[[], T]) -> T:
        """`merge()`, its counts also kept as its stage's (for the stage's summary)."""
        before = dict(self.r.counts)
        result = merge()
        for what, n in self.r.counts.items():
            if n != before.get(what, 0):
                opened.counts[what] = opened.counts.get(what, 0) + n - before.get(what, 0)
        return result

    # -- early starts ----------------------------------------------------------------
    def _look_ahead(self) -> None:
        """Plan early each stage before its turn whose upstream datums committed since it
        was last planned so, when there are slots for it; start its datums now ready.
        Planning a stage early again waits ten times as long as it took (a big stage's
        plan is not made after every datum upstream)."""
        if self.early is None or self.halted or self.r.stop.is_set():
            return
        for name in self.order[self.turn :]:
            stage = self.r.pipeline.stages[name]
            room = self._room(stage)
            if name not in self.fresh or room <= 0 or time.monotonic() < self.after.get(name, 0):
                continue
            if any(not self._upstream_seen(u) for u in self.upstream[name]):
                continue
            before = [u for u in self.ancestors[name] if u not in self.open and u not in self.ended]
            if any(u in self.fresh for u in before):
                continue  # an upstream stage's early plan is behind: it is made first
            self.fresh.discard(name)
            if stage.repeat is not None or self._batched(stage):
                continue
            began = time.monotonic()
            held = None
            if before:  # upstream stages before their turn: what their early datums hold
                held = overlay.build(
                    self.r.state(),
                    self.r.files,
                    self.r.scanned,
                    self._held(),
                    self.r.run.id,
                    self.r.cas,
                )
                if held is None:
                    continue
            state = held.state if held else self.r.state()
            data = held.data if held else self.r.files.manifest(like=self.r.scanned)
            work = self.early(name, state, data)
            if work is not None:
                self.plans[name] = work
            if work is not None and self._start_ready(stage, work, room, held):
                self.fresh.add(name)  # more were ready than there were slots
            self.after[name] = time.monotonic() + 10 * (time.monotonic() - began)

    def _upstream_seen(self, name: str) -> bool:
        """Whether an upstream stage's results can be seen: committed (its turn came) or
        held by its early datums (run/overlay.py)."""
        return name in self.open or name in self.ended or bool(self.ahead.get(name))

    def _held(self) -> list[Done]:
        """The results early datums of stages before their turn hold, in the run's order."""
        return [
            d
            for n in self.order[self.turn :]
            for u in self.ahead.get(n, {}).values()
            if not u.dropped
            for d in u.done or ()
        ]

    def _room(self, stage: Stage) -> int:
        """How many more units of `stage` may wait or run now."""
        total = len(self.running) + len(self.queue) + len(self.waiting)
        mine = self.load.get(stage.name, 0)
        return min(self.width - total, self._limit(stage) - mine)

    def _batched(self, stage: Stage) -> bool:
        return (stage.batch or 1) > 1 and self.r.lanes(stage).batches

    def _start_ready(
        self, stage: Stage, work: StagePlan, room: int, held: overlay.Overlay | None
    ) -> bool:
        """Queue up to `room` datums of the early plan `work` now ready (made on `held`,
        the held results laid over the committed ones); True if more were."""
        ahead = self.ahead.setdefault(stage.name, {})
        lane: Lane | None = None
        if held and self.r.lanes(stage).executor.name != "local":
            return False  # a pod sees the data root, not kite's content store
        upstream = [self._pending(u) for u in self.ancestors[stage.name] if u not in self.ended]
        for datum in work.datums:
            if datum.action != "run" or datum.id in ahead:
                continue
            if held and overlay.whole_inputs_held(stage, datum.files, held):
                continue
            if not self._ready(stage, datum, upstream):
                continue
            if room <= 0:
                return True
            lane = lane or self.r.lanes(stage)
            unit = Unit(stage, [Job(stage, datum)], lane, work.definition, early=True)
            if held:
                unit.via = overlay.HeldSource(self.r.root, held.files, self.r.cas)
            ahead[datum.id] = unit
            self._enqueue(unit)
            room -= 1
        return False

    def _pending(self, name: str) -> Keys:
        """The keys of a stage's datums that may still write: those still to merge, once
        its turn came; before it, those of its last early plan that may place files and
        hold no result (all of them, when it was not planned early)."""
        if name in self.open:
            return Keys(self.open[name].left.values())
        work, ahead = self.plans.get(name), self.ahead.get(name, {})
        if work is None:
            return Keys([{}])  # nothing known of it: it may write what any datum reads
        quiet = ("unchanged", "skip", "wait")
        return Keys(
            d.key
            for d in work.datums
            if d.action not in quiet and not (d.id in ahead and ahead[d.id].done is not None)
        )

    def _ready(self, stage: Stage, datum: DatumPlan, upstream: Sequence[Keys]) -> bool:
        """True when every upstream datum `datum` may read from has committed."""
        if any(keys.related(datum.key) for keys in upstream):
            return False
        if self.r.blocked.why(stage, datum) is not None:
            return False
        for inp in stage.inputs:
            prefix = "" if inp.path in ("", ".") else inp.path + "/"
            for rel in datum.files.get(inp.name, {}):
                owner = self.r.owner.get(prefix + rel)
                if owner is not None and owner[1] in self.open.get(owner[0], NONE).left:
                    return False
        return True
