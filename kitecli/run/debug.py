"""`kite debug`: prepare one datum's views as apply would, to run its command by hand.

Nothing runs and nothing is committed. The working folder is `.kite/debug/…` (on the
volume, `<mount>/.kite/debug/<env>/…`, for a stage that runs on Kubernetes), so an apply
neither clears nor adopts it. The pod is the one apply would create for the datum's first
attempt, with the run id `debug`; an apply that finds a pod of that name replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitecli.env.reads import borrowed
from kitecli.errors import UsageError
from kitecli.executors.base import Outcome, Task
from kitecli.executors.podspec import no_image
from kitecli.history.project import Project
from kitecli.history.records import key_matches
from kitecli.history.state import key_id
from kitecli.plan.decide import DatumPlan
from kitecli.plan.planning import plan_project, scan_project
from kitecli.run import views
from kitecli.run.lanes import Work, check_stage, lane, read_only_roots
from kitecli.spec.model import Stage
from kitecli.store.roots import open_root

RUN_ID = "debug"


@dataclass(frozen=True)
class Prepared:
    """One datum, ready to be run by hand."""

    stage: Stage
    executor: str  # local | kubernetes
    decision: DatumPlan  # what `kite plan` says of it (its files, fingerprint, reasons)
    task: Task  # argv, environ, workdir, inputs, outputs
    pod: dict[str, Any] | None  # the Pod apply would submit, for a Kubernetes stage
    note: str | None = None  # how it was prepared, when not as apply would


class _Dry:
    """The executor of a lane `kite debug` prepares: it never runs anything."""

    name = "debug"

    def submit(self, task: Task) -> Any:
        raise UsageError("kite debug runs nothing", hint="run the printed command yourself")

    def wait(self, handle: Any) -> Outcome:
        raise UsageError("kite debug runs nothing")

    def cancel(self, handle: Any) -> None:
        pass

    def close(self) -> None:
        pass


def prepare(
    project: Project, stage_name: str, datum: Mapping[str, str], *, pod_only: bool = False
) -> Prepared:
    """Plan `stage_name`, pick the datum matching `datum` (field → value), make its views.

    `pod_only`: only the pod is wanted, so no views are made; where the volume is not
    mounted (a laptop), the datum is taken as last committed, since its files are not seen.
    """
    stage = _stage(project, stage_name)
    pipeline, env = project.pipeline, project.env
    kind = pipeline.executor_for(stage, env)
    unseen = kind == "kubernetes" and pod_only and not _mounted(project)
    decision = (_committed if unseen else _datum)(project, stage, datum)
    if kind == "kubernetes" and not unseen:
        check_stage(env, stage)
    elif unseen and not stage.image:
        raise no_image(stage.name)
    place = lane(
        pipeline,
        env,
        stage,
        _Dry(),
        scratch=pipeline.root / ".kite" / "debug" / env.name,
        purpose="debug",
    )
    [(task, workspace)] = place.tasks(
        pipeline,
        env,
        RUN_ID,
        [Work(stage, decision.key, decision.fingerprint or "", 1, decision.files)],
    )
    if pod_only:
        note = f"{decision.reasons[0]}" if unseen else None
        return Prepared(stage, kind, decision, task, _pod(project, task, kind), note)
    root = open_root(env, project=pipeline.root)  # an object store's views are downloads
    try:
        views.prepare(
            workspace.folder,
            stage=stage,
            data_root=root,
            files=decision.files,
            read_from=borrowed(pipeline, env, [stage.name]),
        )
    finally:
        root.close()
    return Prepared(stage, kind, decision, task, _pod(project, task, kind))


def _mounted(project: Project) -> bool:
    volume = project.env.volume
    return volume is None or Path(volume.mount).is_dir()


def _committed(project: Project, stage: Stage, wanted: Mapping[str, str]) -> DatumPlan:
    """The one committed datum of the stage whose key has every field=value of `wanted`."""
    state, _ = project.committed()
    known = state.stages.get(stage.name)
    found = [r for r in (known.datums.values() if known else []) if key_matches(r.key, wanted)]
    mount = project.env.volume.mount if project.env.volume else ""
    if len(found) != 1:
        every = [key_id(r.key) or "(whole)" for r in (known.datums.values() if known else [])]
        raise UsageError(
            f"the volume of environment {project.env.name!r} is not mounted here ({mount}), "
            f"and stage {stage.name!r} has {len(found)} committed datums with {_shown(wanted)}",
            hint=f"its committed datums: {_few(every)}"
            if every
            else "run `kite debug` where the volume is mounted, or apply the stage first",
        )
    record = found[0]
    why = (
        f"the volume is not mounted here ({mount}): the pod of the datum as last committed "
        f"(fingerprint {record.fingerprint[:15]}…), not of its files now"
    )
    return DatumPlan(record.key, "run", (why,), record.fingerprint)


def _stage(project: Project, name: str) -> Stage:
    stages = project.pipeline.stages
    if name in stages:
        return stages[name]
    variants = project.pipeline.variants(name)
    if len(variants) == 1:
        return variants[0]
    known = ", ".join(v.name for v in variants) if variants else ", ".join(stages)
    raise UsageError(
        f"{'which variant of' if variants else 'no stage'} {name!r}",
        hint=f"stages: {known}",
    )


def _datum(project: Project, stage: Stage, wanted: Mapping[str, str]) -> DatumPlan:
    """The one datum of the stage whose key has every field=value of `wanted`."""
    state, _ = project.committed()
    data = scan_project(project, [stage.name])
    plan = plan_project(
        project,
        state,
        data=data,
        stages=[stage.name],
        force=lambda _s, key: key_matches(key, wanted),
    )
    found = [d for d in plan.stage(stage.name).datums if key_matches(d.key, wanted)]
    found = [d for d in found if d.action != "delete"]
    if len(found) == 1 and found[0].fingerprint is not None:
        return found[0]
    if not found:
        every = [key_id(d.key) or "(whole)" for d in plan.stage(stage.name).datums]
        raise UsageError(
            f"stage {stage.name!r} has no datum with {_shown(wanted)}",
            hint=f"its datums: {_few(every)}"
            if every
            else "its inputs hold no files yet: apply the stages before it first",
        )
    which = f"{_shown(wanted)} matches" if wanted else f"stage {stage.name!r} has"
    raise UsageError(
        f"{which} {len(found)} datums: {_few([key_id(d.key) for d in found])}",
        hint="pick one with --datum FIELD=VALUE, e.g. --datum "
        + " --datum ".join(f"{k}={v}" for k, v in sorted(found[0].key.items())),
    )


def _pod(project: Project, task: Task, kind: str) -> dict[str, Any] | None:
    if kind != "kubernetes":
        return None
    from kitecli.executors.podspec import PodOptions, build_pod

    env = project.env
    options = PodOptions(
        namespace=env.namespace or "default",
        read_only=read_only_roots(project.pipeline, env),
    )
    return build_pod([task], options=options)


def _shown(wanted: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(wanted.items())) or "no --datum"


def _few(items: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
