"""`kite backfill`: run the datums of a time range again, in the order asked, and what follows.

The range chooses datums of the named stages (`--stage`, else every stage) by their time
(timerange.py): `stale` those with something to do, `failed` those whose last attempt failed
or was rejected, `all` every one, forced past the run cache. In every stage of the run, a
datum that reads a file the backfill changed follows (by fingerprint). Everything else is
left alone, whatever its state. Within a stage, chosen datums start in time order. This
narrowing is an `applying.Shape`: `kite apply` does the rest (lease, runner, commits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kitecli.errors import UsageError
from kitecli.history.project import Project
from kitecli.history.records import RunRecord
from kitecli.history.state import EnvState, StageState
from kitecli.plan.decide import DatumPlan
from kitecli.plan.plan import Plan, StagePlan, select
from kitecli.plan.planning import plan_project
from kitecli.plan.timerange import Period, TimeRange, datum_period
from kitecli.run.apply import ApplyOptions, apply
from kitecli.scan.manifest import Manifest
from kitecli.spec.model import Pipeline, Stage

Order = Literal["newest-first", "oldest-first"]
Reprocess = Literal["stale", "failed", "all"]
ORDERS: tuple[Order, ...] = ("oldest-first", "newest-first")
MODES: tuple[Reprocess, ...] = ("stale", "failed", "all")
LEFT_ALONE = "left alone: not chosen by this backfill"
_PENDING = "known after apply: "


def order(name: str) -> Order:
    """The order named `name`, or a usage error."""
    for known in ORDERS:
        if known == name:
            return known
    raise UsageError(f"--order {name}: no such order", hint="use oldest-first or newest-first")


def reprocess(name: str) -> Reprocess:
    """The mode named `name`, or a usage error."""
    for known in MODES:
        if known == name:
            return known
    raise UsageError(f"--reprocess {name}: no such mode", hint="use stale, failed or all")


@dataclass(frozen=True)
class Request:
    """What `kite backfill` was asked."""

    range: TimeRange
    stages: tuple[str, ...] = ()
    downstream: bool = False
    order: Order = "oldest-first"
    reprocess: Reprocess = "stale"

    def record(self) -> dict[str, Any]:
        """What the run record keeps of it (RunRecord.options)."""
        return {
            "command": "backfill",
            "range": self.range.text,
            "order": self.order,
            "reprocess": self.reprocess,
            "stages": list(self.stages),
            "downstream": self.downstream,
        }


@dataclass(frozen=True)
class Backfill:
    """The narrowing and ordering of one backfill (implements applying.Shape)."""

    pipeline: Pipeline
    window: Period
    named: frozenset[str]  # stages whose datums the range chooses
    order: Order
    reprocess: Reprocess
    explicit: bool = False  # the stages were named with --stage

    @classmethod
    def of(cls, pipeline: Pipeline, request: Request) -> Backfill:
        names = select(pipeline, request.stages, downstream=False)
        return cls(
            pipeline,
            request.range.period,
            frozenset(names),
            request.order,
            request.reprocess,
            explicit=bool(request.stages),
        )

    def force(self, stage: str, key: Mapping[str, str]) -> bool:
        return self.reprocess == "all" and stage in self.named and self._in_range(key)

    def stage(
        self, planned: StagePlan, *, state: EnvState, data: Manifest, initial: Manifest
    ) -> StagePlan:
        return self._narrow(planned, state, Changes.between(initial, data))

    def whole(self, plan: Plan, state: EnvState) -> Plan:
        changes = Changes()
        stages = []
        for planned in plan.stages:
            narrowed = self._narrow(planned, state, changes)
            changes.expect(self.pipeline.stages[planned.name], narrowed, state)
            stages.append(narrowed)
        warnings = [*plan.warnings, *self._warnings(plan)]
        return dataclasses.replace(plan, stages=tuple(stages), warnings=tuple(warnings))

    # -- choosing --------------------------------------------------------------------
    def _narrow(self, planned: StagePlan, state: EnvState, changes: Changes) -> StagePlan:
        stage = self.pipeline.stages[planned.name]
        committed = state.stages.get(planned.name)
        chosen: list[DatumPlan] = []
        alone: list[DatumPlan] = []
        for datum in planned.datums:
            if not datum.changes:
                alone.append(datum)
            elif self._chosen(stage.name, datum) or changes.reaches(stage, datum, committed):
                chosen.append(datum)
            else:
                alone.append(dataclasses.replace(datum, action="unchanged", reasons=(LEFT_ALONE,)))
        narrowed = dataclasses.replace(planned, datums=(*self._ordered(chosen), *alone))
        if (
            committed is not None
            and committed.definition
            and any(d.reasons == (LEFT_ALONE,) for d in alone)
        ):  # datums left stale keep the reasons the definition they were made with gives
            narrowed = dataclasses.replace(
                narrowed, definition=committed.definition, parts=dict(committed.parts)
            )
        return narrowed

    def _chosen(self, stage: str, datum: DatumPlan) -> bool:
        if stage not in self.named or not self._in_range(datum.key):
            return False
        if self.reprocess == "failed":
            return datum.was in ("failed", "rejected")
        return True

    def _in_range(self, key: Mapping[str, str]) -> bool:
        found = datum_period(key)
        return found is not None and found.overlaps(self.window)

    def _ordered(self, datums: Sequence[DatumPlan]) -> list[DatumPlan]:
        """Timed datums in the order asked (ties by key), then those without a time."""
        by_key = sorted(datums, key=lambda d: d.id)
        timed = [(p, d) for d in by_key if (p := datum_period(d.key)) is not None]
        untimed = [d for d in by_key if datum_period(d.key) is None]
        timed.sort(key=lambda pd: pd[0].start, reverse=self.order == "newest-first")  # stable
        return [d for _, d in timed] + untimed

    def _warnings(self, plan: Plan) -> Iterable[str]:
        for planned in plan.stages:
            named = self.explicit and planned.name in self.named and planned.datums
            if named and all(datum_period(d.key) is None for d in planned.datums):
                yield (
                    f"{planned.name}: no datum key reads as a date or time, so the range "
                    "chooses none of its datums; only what follows from the backfill runs"
                )


class Changes:
    """What the backfill changed in the data (during the run) or will change (before it)."""

    def __init__(self, files: Iterable[str] = (), folders: Iterable[str] = ()) -> None:
        self.files = set(files)
        self.folders = set(folders)  # where files not known yet may appear

    @classmethod
    def between(cls, before: Manifest, after: Manifest) -> Changes:
        old, new = before.files, after.files
        return cls(p for p in {*old, *new} if old.get(p) != new.get(p))

    def file(self, path: str) -> bool:
        return path in self.files or any(path.startswith(f + "/") for f in self.folders)

    def folder(self, path: str) -> bool:
        prefix = "" if path in ("", ".") else path + "/"
        if any(p.startswith(prefix) for p in self.files):
            return True
        return any(_overlap(path, f) for f in self.folders)

    def reaches(self, stage: Stage, datum: DatumPlan, committed: StageState | None) -> bool:
        """True when `datum` reads (or last read) something that changes."""
        if not (self.files or self.folders):
            return False
        paths = [_join(stage.input(n).path, rel) for n, f in datum.files.items() for rel in f]
        paths += [f"{_join(stage.input(n).path, '')}/" for n in datum.roots]
        record = committed.datums.get(datum.id) if committed else None
        paths += list(record.inputs) if record else []
        paths += [r.removeprefix(_PENDING) for r in datum.reasons if r.startswith(_PENDING)]
        return any(self.folder(p[:-1]) if p.endswith("/") else self.file(p) for p in paths)

    def expect(self, stage: Stage, planned: StagePlan, state: EnvState) -> None:
        """Add what the chosen datums of `planned` will change (before the run)."""
        committed = state.stages.get(stage.name)
        for datum in planned.datums:
            if not datum.changes:
                continue
            record = committed.datums.get(datum.id) if committed else None
            self.files.update(datum.outputs)
            if record is not None:
                self.files.update(record.outputs)
            elif datum.action in ("run", "pending"):
                self.folders.update(o.path for o in stage.outputs)


def _join(folder: str, rel: str) -> str:
    folder = "" if folder in ("", ".") else folder
    return f"{folder}/{rel}" if folder and rel else folder or rel


def _overlap(a: str, b: str) -> bool:
    return "" in (a, b) or "." in (a, b) or a == b or a.startswith(b + "/") or b.startswith(a + "/")


def preview(project: Project, request: Request) -> Plan:
    """What `kite backfill` would do (--dry-run): the narrowed plan, datums in run order."""
    shape = Backfill.of(project.pipeline, request)
    state, _ref = project.committed()
    planned = plan_project(
        project, state, stages=request.stages, downstream=request.downstream, force=shape.force
    )
    return shape.whole(planned, state)


def run(
    project: Project, request: Request, options: ApplyOptions, *, say: Callable[[str], None]
) -> RunRecord | None:
    """Run the backfill through `kite apply`'s machinery; None when there was nothing to do."""
    shape = Backfill.of(project.pipeline, request)
    options = dataclasses.replace(
        options,
        stages=request.stages,
        downstream=request.downstream,
        options={**options.options, **request.record()},
    )
    return apply(project, options, say=say, shape=shape)
