"""The plan: per stage and datum what `kite apply` will do, and why. Pure: values in, Plan out.

Stages are planned in graph order; what the stages planned so far will change decides
which datums downstream are `pending` (known after apply). See docs/plan.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kitecli.errors import UsageError
from kitecli.history.state import EnvState, StageState
from kitecli.plan import fingerprint, trigger
from kitecli.plan.datums import Datum, stage_datums
from kitecli.plan.decide import (
    ACTIONS,
    CHANGES,
    MAX_REASONS,
    Action,
    DatumPlan,
    Force,
    RunCache,
    StageContext,
    Upstream,
    decide,
    no_run_cache,
    recorded_inputs,
    stage_skip,
)
from kitecli.scan.manifest import Manifest
from kitecli.spec.gates import describe
from kitecli.spec.graph import Graph, overlaps
from kitecli.spec.model import Pipeline, Stage

__all__ = [
    "ACTIONS",
    "CHANGES",
    "MAX_REASONS",
    "Action",
    "DatumPlan",
    "Force",
    "Plan",
    "RunCache",
    "StagePlan",
    "make_plan",
    "no_run_cache",
    "recorded_inputs",
    "select",
]


def _summary(datums: Sequence[DatumPlan]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
    for datum in datums:
        counts[datum.action] += 1
    return counts


@dataclass(frozen=True)
class StagePlan:
    """One stage: its definition (to be recorded by apply) and a decision per datum.

    `known_after_apply`: why more datums may appear once upstream work has run, e.g.
    "clean: 3 new datums" (their outputs, and so these datums, are known after apply).
    `skip`: `when params.region == "eu" is false` when the stage-level `when:` is false.
    `gates`: one line per output with `accept:` checks, e.g. `clean/: min_files 1`.
    """

    name: str
    definition: str
    parts: Mapping[str, str]
    datums: tuple[DatumPlan, ...] = ()
    known_after_apply: tuple[str, ...] = ()
    skip: str | None = None  # why the whole stage is skipped (its `when:` is false)
    gates: tuple[str, ...] = ()  # the acceptance checks its datums' outputs must pass
    # `trigger:` (plan/trigger.py): why its new datums wait, and since when (epoch seconds)
    held: str | None = None
    waiting_since: float | None = None
    starts_clock: bool = False  # the wait starts now: apply commits when it started

    @property
    def summary(self) -> dict[str, int]:
        return _summary(self.datums)

    @property
    def changes(self) -> bool:
        return self.starts_clock or any(d.changes for d in self.datums)


@dataclass(frozen=True)
class Plan:
    """What `kite apply` will do in one environment, against the commit `base`."""

    env: str
    base: str | None  # the commit the plan was made against (None: nothing committed yet)
    pipeline: str  # the pipeline's digest
    today: str  # the date source stages' ranges ended at
    stages: tuple[StagePlan, ...] = ()
    warnings: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # given by --param, if any
    # the tree digest of every folder the stages read that no stage writes: a saved plan
    # is stale when any of them changed, planned datum or not
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        return _summary([d for s in self.stages for d in s.datums])

    @property
    def changes(self) -> bool:
        return any(s.changes for s in self.stages)

    def stage(self, name: str) -> StagePlan:
        return next(s for s in self.stages if s.name == name)


def waiting(plan: Plan) -> str | None:
    """`3 datums wait (load: waiting for raw/2026-12-02/_SUCCESS, and 2 more)`, or None:
    what the first stage with waiting datums waits for (its trigger, else a datum's input)."""
    held = [(s, d) for s in plan.stages for d in s.datums if d.action == "wait"]
    if not held:
        return None
    stage, first = held[0]
    what = stage.held or (first.reasons[0] if first.reasons else "waiting")
    others = len(held) - (sum(1 for s, _ in held if s is stage) if stage.held else 1)
    more = f", and {others} more" if others else ""
    count = f"{len(held)} datum{'s' if len(held) != 1 else ''}"
    return f"{count} wait{'s' if len(held) == 1 else ''} ({stage.name}: {what}{more})"


REPEAT = "repeat: "  # how the line of a stage with `repeat:` among its gates begins


def gates(stage: Stage) -> tuple[str, ...]:
    """The acceptance checks of the stage's outputs, one line per gated output; with
    `repeat:`, a line `repeat: up to N iterations ...` first (docs/repeat.md)."""
    found = (
        [
            f"{REPEAT}up to {stage.repeat.max} iterations (known after apply) until "
            f"`{stage.repeat.until}`"
        ]
        if stage.repeat is not None
        else []
    )
    found += [f"{o.path}/: {describe(o.accept)}" for o in stage.outputs if o.accept is not None]
    return tuple(found)


def select(pipeline: Pipeline, names: Sequence[str], *, downstream: bool) -> tuple[str, ...]:
    """The stages to plan, in graph order: `names` (a base name means all its matrix
    variants), with everything downstream of them when asked; all stages when none given."""
    graph = Graph.of(pipeline.stages)
    if not names:
        return graph.order
    chosen: list[str] = []
    for name in names:
        variants = [name] if name in pipeline.stages else [s.name for s in pipeline.variants(name)]
        if not variants:
            bases = sorted({s.base for s in pipeline.stages.values()} | set(pipeline.stages))
            import difflib

            close = difflib.get_close_matches(name, bases, n=1, cutoff=0.6)
            raise UsageError(
                f"no stage named {name!r}",
                hint=f"did you mean '{close[0]}'?" if close else f"stages: {', '.join(bases)}",
            )
        chosen += variants
    return graph.closure(chosen, downstream=downstream)


def make_plan(
    pipeline: Pipeline,
    *,
    env: str,
    state: EnvState,
    data: Manifest,
    code: Mapping[str, str],
    today: dt.date,
    now: dt.datetime | None = None,
    run_cache: RunCache = no_run_cache,
    stages: Sequence[str] = (),
    downstream: bool = False,
    force: Force | None = None,
    triggers: bool = True,
) -> Plan:
    """Decide every datum of the selected stages (all by default), in graph order.

    `state` is what was committed for `env`; `data` the data root's manifest (at least every
    directory the stages read or write); `code` maps each `code:` path to its digest;
    `run_cache` finds what an identical earlier datum produced; `force(stage, key)` marks
    datums to run whatever their state (backfill), bypassing the run cache, and its
    stages' `trigger:` too, as `triggers=False` (`--now`) does.
    """
    effects = _Effects()
    planned: list[StagePlan] = []
    warnings: list[str] = []
    for name in select(pipeline, stages, downstream=downstream):
        stage = pipeline.stages[name]
        committed = state.stages.get(name) or StageState(definition="")
        found = stage_datums(
            stage, data, today=today, now=now, params={**pipeline.params, **stage.matrix}, env=env
        )
        definition = stage_definition(pipeline, stage, code=code, data=data)
        upstream = Upstream(effects.changing, effects.touched_dir)
        ctx = StageContext(
            stage, env, pipeline.params, data, definition, committed, run_cache, force, upstream
        )
        stage_plan = _stage_plan(ctx, found.datums, notes=effects.notes_for(stage))
        moment = now or dt.datetime.now()
        held = trigger.hold(stage, stage_plan.datums, committed, moment) if triggers else None
        if held is not None and force is None:
            stage_plan = dataclasses.replace(
                stage_plan,
                datums=held.datums,
                held=held.why,
                waiting_since=held.since,
                starts_clock=held.starts_clock,
            )
        planned.append(stage_plan)
        warnings += found.warnings
        effects.add(stage, stage_plan, committed)
    return Plan(
        env,
        state.commit,
        pipeline.digest,
        today.isoformat(),
        tuple(planned),
        tuple(warnings),
        dict(pipeline.overrides),
        sources(pipeline, [p.name for p in planned], data),
    )


def stage_definition(
    pipeline: Pipeline, stage: Stage, *, code: Mapping[str, str], data: Manifest
) -> fingerprint.Definition:
    """The stage's definition fingerprint, with its code and the `.kiteignore` files of
    `data` (a saved plan is checked against the same)."""
    ignores = {path: data.files[path].digest for path in data.ignores if path in data.files}
    return fingerprint.definition(stage, params=pipeline.params, code=code, ignores=ignores)


def source_digest(data: Manifest, path: str) -> str:
    """The digest of what an input reads: its folder's tree, or the one file it names."""
    entry = data.files.get(path)
    return entry.digest if entry is not None else data.subtree(path).digest


def sources(pipeline: Pipeline, names: Sequence[str], data: Manifest) -> dict[str, str]:
    """Folder → tree digest of each input of the named stages that no stage writes."""
    written = [o.path for stage in pipeline.stages.values() for o in stage.outputs]
    return {
        i.path: source_digest(data, i.path)
        for name in names
        for i in pipeline.stages[name].inputs
        if not any(overlaps(i.path, w) for w in written)
    }


def _stage_plan(ctx: StageContext, datums: Sequence[Datum], *, notes: tuple[str, ...]) -> StagePlan:
    """One stage's plan: its definition, every datum decided, and what it says besides."""
    stage, definition = ctx.stage, ctx.definition
    return StagePlan(
        stage.name,
        definition.fingerprint,
        definition.parts,
        decide(ctx, datums),
        notes,
        stage_skip(stage, params=ctx.params, env=ctx.env),
        gates(stage),
    )


class _Effects:
    """What the stages planned so far will change, for the stages downstream of them."""

    def __init__(self) -> None:
        self.changing: set[str] = set()  # data-root-relative files that apply changes or removes
        self.unknown: list[tuple[str, str]] = []  # (output dir, why) where new files may appear

    def add(self, stage: Stage, planned: StagePlan, committed: StageState) -> None:
        new = again = 0  # datums whose outputs appear in apply: never run, or failed before
        for datum in planned.datums:
            if not datum.changes:
                continue
            record = committed.datums.get(datum.id)
            if record is not None:
                self.changing.update(record.outputs)
            self.changing.update(datum.outputs)
            if datum.action in ("run", "pending", "cached"):
                new += record is None
                again += record is not None and record.status != "succeeded"
        notes = [f"{stage.name}: {new} new datum{'s' if new != 1 else ''}"] if new else []
        if again:
            notes.append(
                f"{stage.name}: {again} datum{'s' if again != 1 else ''} that failed before"
            )
        if planned.known_after_apply:
            notes.append(f"{stage.name}: known after apply")
        self.unknown += [(out.path, note) for out in stage.outputs for note in notes]

    def touched_dir(self, folder: str) -> bool:
        """True when apply may change files under `folder`."""
        prefix = "" if folder in ("", ".") else folder + "/"
        if any(p.startswith(prefix) for p in self.changing):
            return True
        return any(_overlaps(out, folder) for out, _ in self.unknown)

    def notes_for(self, stage: Stage) -> tuple[str, ...]:
        notes = [
            why for inp in stage.inputs for out, why in self.unknown if _overlaps(out, inp.path)
        ]
        return tuple(dict.fromkeys(notes))


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or "." in (a, b) or "" in (a, b)
