"""`kite apply`: take the lease, plan (or load a saved plan), run it, commit, release."""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kitecli.errors import ExitCode, KiteError, ProjectError
from kitecli.history.project import Project
from kitecli.history.records import RunRecord
from kitecli.history.state import EnvState
from kitecli.plan.plan import Plan, StagePlan, waiting
from kitecli.plan.planning import plan_project, scan_project
from kitecli.plan.saved import check_saved
from kitecli.run.breaks import Breakpoints
from kitecli.run.jobs import Progress
from kitecli.run.kept import kept_folder
from kitecli.run.lanes import ClusterOptions
from kitecli.run.signals import interruptible
from kitecli.scan.manifest import Manifest
from kitecli.spec.build import current_user
from kitecli.store import lease as leases
from kitecli.store.ifbusy import IfBusy, Tenure, held
from kitecli.store.links import clear

if TYPE_CHECKING:
    from kitecli.env.guard import Guard, Isolation
    from kitecli.run.jobs import Early, Planner
    from kitecli.run.lanes import Lanes
    from kitecli.store.repo import Ref


def checkpoint_seconds() -> float:
    """Finished datums are committed at least this often (0: after every datum)."""
    return float(os.environ.get("KITE_CHECKPOINT_SECONDS", "30"))


@dataclass(frozen=True)
class ApplyOptions:
    """What the command line asked for."""

    parallel: int = os.cpu_count() or 1
    stages: tuple[str, ...] = ()
    downstream: bool = False
    argv: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # recorded in the run record
    plan: str | None = None  # digest of the saved plan being applied
    if_busy: IfBusy = "wait"  # when another run holds the lease (kitecli/store/ifbusy.py)
    yes: bool = False  # apply to a protected environment
    cluster: ClusterOptions = field(default_factory=ClusterOptions)  # --kubeconfig, --context, …
    wait: float = 0.0  # seconds to wait for datums whose inputs are not ready (`ready:`)
    now: bool = False  # `--now`: no stage's `trigger:` holds its new datums back
    progress: Progress | None = None  # how far each stage is (the CLI draws it)
    breaks: Breakpoints = field(default_factory=Breakpoints)  # where the run pauses
    keep_failed: bool = False  # keep failed attempts' working folders (run/kept.py)


def exit_code(record: RunRecord | None) -> ExitCode:
    """The run's outcome as kite's exit status."""
    if record is None or record.status == "succeeded":
        return ExitCode.OK
    if record.status == "interrupted":
        return ExitCode.INTERRUPTED
    if record.status == "paused":
        return ExitCode.PAUSED
    return ExitCode.FAILED


def new_run_id() -> str:
    """Time-ordered and unique: `20240131-060000-3f9a1c`."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def new_run(project: Project, options: ApplyOptions) -> RunRecord:
    return RunRecord(
        id=new_run_id(),
        env=project.env.name,
        user=current_user(),
        host=socket.gethostname(),
        argv=options.argv,
        started=time.time(),
        ended=None,
        status="running",
        plan=options.plan,
        params=dict(options.params),
        options=dict(options.options),
    )


@contextmanager
def lease(
    project: Project,
    holder: str,
    *,
    if_busy: IfBusy = "fail",
    say: Callable[[str], None] = lambda _msg: None,
) -> Iterator[Tenure]:
    """Hold the environment's apply lease for the block, renewing it in the background.

    Yields a false Tenure (holding nothing) when `if_busy` is "skip" and another run holds it.
    """
    repo, ttl = project.repo, leases.ttl()
    with held(
        lambda: repo.acquire(project.env.name, holder=holder, ttl=ttl),
        renew=lambda lease: repo.renew(lease, ttl=ttl),
        release=repo.release,
        ttl=ttl,
        if_busy=if_busy,
        say=say,
    ) as holding:
        yield holding


def scratch_folder(project: Project, run_id: str) -> Path:
    """The run's own folder for kite's files (outputs staged for an object store)."""
    return project.pipeline.root / ".kite" / "tmp" / run_id


def work_folder(project: Project) -> Path:
    """Where local datums work: the same folder in every run and environment (claims.py)."""
    return project.pipeline.root / ".kite" / "work"


def describe(argv: Sequence[str]) -> tuple[str, ...]:
    return ("kite", *argv)


class Shape(Protocol):
    """Narrows and orders what a run does, stage by stage (`kite backfill`: backfill.py)."""

    def force(self, stage: str, key: Mapping[str, str]) -> bool:
        """Run this datum whatever its state, bypassing the run cache."""

    def whole(self, plan: Plan, state: EnvState) -> Plan:
        """The plan made before running, narrowed (for "nothing to do" and --dry-run)."""

    def stage(
        self, planned: StagePlan, *, state: EnvState, data: Manifest, initial: Manifest
    ) -> StagePlan:
        """One stage's plan made during the run, narrowed and ordered: `data` is the data
        now, `initial` as the run found it (what differs, the run changed)."""


def planner(
    project: Project, initial: Manifest, shape: Shape | None, *, triggers: bool = True
) -> Planner:
    """Plans one stage against what is committed so far in the run (Runner.execute)."""
    force = None if shape is None else shape.force

    def plan_stage(stage: str, state: EnvState, data: Manifest) -> StagePlan:
        whole = plan_project(
            project, state, data=data, stages=[stage], force=force, triggers=triggers
        )
        planned = whole.stage(stage)
        if shape is None:
            return planned
        return shape.stage(planned, state=state, data=data, initial=initial)

    return plan_stage


def admit(
    project: Project, options: ApplyOptions, run_id: str, say: Callable[[str], None]
) -> Guard:
    """Refuse before anything is written (protected, roots, outputs); warn about identity."""
    from kitecli.env import guard
    from kitecli.history import ledger
    from kitecli.plan.plan import select
    from kitecli.spec import identity

    ledger.read_lock(project.pipeline.root / ledger.LOCK_FILE)  # rewritten at the end
    names = select(project.pipeline, options.stages, downstream=options.downstream)
    _outputs_are_folders(project, names)
    scratch = [scratch_folder(project, run_id), work_folder(project)]
    scratch += [kept_folder(project.pipeline.root, run_id)] if options.keep_failed else []
    admitted = guard.admit(project.pipeline, project.env, names, yes=options.yes, scratch=scratch)
    for warning in identity.warnings(project.pipeline, project.env):
        say(warning)
    return admitted


def isolated(project: Project, admitted: Guard, names: Sequence[str]) -> Isolation:
    """The Runner's repo, CAS, input roots and write guard, as write isolation and `reads:`
    want them (`admitted`: the guard, widened to the pods' working folders if need be)."""
    from kitecli.env import guard, reads

    return guard.Isolation(
        repo=guard.GuardedRepo(project.repo, project.env.name),
        cas=guard.GuardedCAS(reads.open_cas(project.pipeline, project.env), admitted),
        writes=admitted,
        read_from=reads.borrowed(project.pipeline, project.env, names),
    )


def plan_all(
    project: Project,
    options: ApplyOptions,
    state: EnvState,
    data: Manifest,
    shape: Shape | None,
    say: Callable[[str], None],
) -> Plan:
    """The plan of the whole run, before it starts (narrowed by `shape`, if any)."""
    stages, downstream = options.stages, options.downstream
    if shape is None:
        return plan_project(
            project,
            state,
            data=data,
            stages=stages,
            downstream=downstream,
            triggers=not options.now,
        )
    full = plan_project(
        project, state, data=data, stages=stages, downstream=downstream, force=shape.force
    )
    full = shape.whole(full, state)
    for warning in full.warnings:
        say(f"warning: {warning}")
    return full


@dataclass(frozen=True)
class Started:
    """An apply that holds its lease and has its plan: what the runner starts from."""

    run: RunRecord
    state: EnvState
    ref: Ref
    data: Manifest
    plan: Plan
    tenure: Tenure  # the lease: a lost one stops the run


def apply(
    project: Project,
    options: ApplyOptions,
    *,
    say: Callable[[str], None],
    progress: Progress | None = None,
    saved: Plan | None = None,
    shape: Shape | None = None,
) -> RunRecord | None:
    """Plan (or take the `saved` plan) and run it; None when there was nothing to do."""
    from kitecli.plan.plan import select

    run = new_run(project, options)
    stages = [s.name for s in saved.stages] if saved else list(options.stages)
    downstream = options.downstream and saved is None
    # a saved plan was reviewed: it counts as --yes for a protected environment
    admitted = admit(
        project, dataclasses.replace(options, yes=options.yes or bool(saved)), run.id, say
    )
    names = select(project.pipeline, stages, downstream=downstream)
    if options.wait > 0 and saved is None:
        from kitecli.run.waiting import wait_for_data

        wait_for_data(project, options.wait, stages=stages, downstream=downstream, say=say)
    with lease(project, holder=run.id, if_busy=options.if_busy, say=say) as held:
        if not held:
            return None
        run = dataclasses.replace(run, started=time.time())  # not the time spent waiting
        state, ref = project.committed()
        data = scan_project(project, stages, downstream=downstream)
        if saved is not None:
            full = check_saved(project, saved, ref=ref, data=data)
        else:
            full = plan_all(project, options, state, data, shape, say)
        if _nothing_to_do(full, say):
            return None
        started = Started(run, state, ref, data, full, held)
        lanes = lanes_of(project, options, started)
        try:
            isolation = isolated(project, lanes.writes(admitted, names), names)
            record = execute(project, options, started, lanes, isolation, progress, shape, saved)
        finally:
            lanes.close()
            tidy(project, run.id, lanes)  # also when the run ended in an error
        if held.lost is not None:
            raise held.lost
        return record


def _nothing_to_do(plan: Plan, say: Callable[[str], None]) -> bool:
    """True when the plan changes nothing (it says so); it also says what waits for data."""
    waits = waiting(plan)
    if waits is not None:
        held = [s.name for s in plan.stages if s.held]
        ways = ["kite apply --now runs what a trigger holds back"] if held else []
        if any(d.action == "wait" for s in plan.stages if not s.held for d in s.datums):
            ways.append("kite apply --wait DURATION waits for inputs to be ready")
        waits += f" ({'; '.join(ways)})"
    if not plan.changes:
        say(f"No changes: {waits}." if waits else "No changes: everything is up to date.")
        return True
    if waits is not None:
        say(f"kite: {waits}")
    return False


def tidy(project: Project, run_id: str, lanes: Lanes) -> None:
    """Remove the run's folders, and the datum folders a crashed apply left behind."""
    from kitecli.run import claims

    for folder in [scratch_folder(project, run_id), *lanes.folders()]:
        if folder.exists():
            clear(folder)
    claims.sweep(work_folder(project))


def lanes_of(project: Project, options: ApplyOptions, started: Started) -> Lanes:
    """The executors of the stages that may run; configuration errors show here, before
    anything runs."""
    from kitecli.run.lanes import Lanes

    return Lanes(
        pipeline=project.pipeline,
        env=project.env,
        stages=[project.pipeline.stages[s.name] for s in started.plan.stages if _runs(s)],
        scratch=work_folder(project),
        cluster=options.cluster,
    )


def execute(
    project: Project,
    options: ApplyOptions,
    started: Started,
    lanes: Lanes,
    isolation: Isolation,
    progress: Progress | None,
    shape: Shape | None,
    saved: Plan | None,
) -> RunRecord:
    """Hand the plan to one Runner; a stage that had to wait for upstream work is planned
    again when its turn comes (and early, to start what is ready), the others run as
    decided."""
    from kitecli.run.jobs import Settings
    from kitecli.run.runner import Runner

    runner = Runner(
        pipeline=project.pipeline,
        env=project.env,
        lanes=lanes,
        run=started.run,
        state=started.state,
        ref=started.ref,
        files=started.data.files,
        scanned=started.data,
        settings=Settings(
            parallel=options.parallel,
            scratch=scratch_folder(project, started.run.id),
            user=started.run.user,
            checkpoint_every=checkpoint_seconds(),
            breaks=options.breaks,
            keep=kept_folder(project.pipeline.root, started.run.id, keep=options.keep_failed),
        ),
        progress=progress or options.progress,
        isolation=isolation,
    )
    lanes.say = runner.progress.note  # a datum waiting for another apply's folder says so
    chosen, early = _planners(project, options, started, shape, saved)

    def stop(lost: KiteError) -> None:
        runner.progress.note(f"kite: {lost.message}; cancelling attempts in flight")
        runner.disowned = started.tenure.taken  # then the environment is the other run's
        runner.interrupt()

    started.tenure.on_lost(stop)
    with interruptible(runner.interrupt):
        return runner.execute([s.name for s in started.plan.stages], chosen, early)


def _planners(
    project: Project,
    options: ApplyOptions,
    started: Started,
    shape: Shape | None,
    saved: Plan | None,
) -> tuple[Planner, Early]:
    """How each stage is planned at its turn, and before it (to start what is ready): a
    saved plan's stages as decided (at their turn only), the others against the run so far."""
    plan_stage = planner(project, started.data, shape, triggers=not options.now)
    decided = {s.name: s for s in started.plan.stages if not _waits(s)} if saved else {}
    fixed = set(decided)

    def chosen(name: str, now: EnvState, known: Manifest) -> StagePlan:
        return decided.pop(name) if name in decided else plan_stage(name, now, known)

    def early(name: str, now: EnvState, known: Manifest) -> StagePlan | None:
        return None if name in fixed else plan_stage(name, now, known)

    return chosen, early


def _runs(stage: StagePlan) -> bool:
    """True when the stage may run something in this apply."""
    return stage.changes or _waits(stage)


def _waits(stage: StagePlan) -> bool:
    """True when some of the stage's work was known only after upstream work ran."""
    return bool(stage.known_after_apply) or any(d.action == "pending" for d in stage.datums)


def _outputs_are_folders(project: Project, names: Sequence[str]) -> None:
    """Refuse, before anything runs, an output folder of a local data root that something
    else (a file, a link to a file) took the place of."""
    if "://" in project.env.data:
        return
    root = project.pipeline.root / project.env.data
    for name in names:
        for out in project.pipeline.stages[name].outputs:
            where = root / out.path
            if (where.exists() or where.is_symlink()) and not where.is_dir():
                shown = where.relative_to(project.pipeline.root).as_posix()
                raise ProjectError(
                    f"{shown} is a file, where stage {name} writes its output {out.name!r} "
                    "as a folder",
                    hint=f"move {shown} away; kite makes the folder and places the outputs again",
                )
