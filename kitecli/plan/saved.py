"""Whether a saved plan still holds: same environment, pipeline, state, code and inputs."""

from __future__ import annotations

from typing import Any

from kitecli.errors import StalePlanError
from kitecli.history.project import Project
from kitecli.plan.plan import Plan, source_digest, stage_definition
from kitecli.plan.planning import hash_code
from kitecli.scan.manifest import Manifest
from kitecli.spec.model import Pipeline


def check_saved(project: Project, saved: Plan, *, ref: Any, data: Manifest) -> Plan:
    """The saved plan if it still holds; StalePlanError saying what moved if not."""
    hint = "make a new plan: kite plan --out FILE"
    if saved.env != project.env.name:
        raise StalePlanError(
            f"the plan is for environment {saved.env!r}, not {project.env.name!r}",
            hint=f"kite apply --env {saved.env} PLAN",
        )
    if saved.pipeline != project.pipeline.digest:
        raise StalePlanError("pipeline.yaml changed since the plan was made", hint=hint)
    if saved.base != ref.commit:
        raise StalePlanError(
            f"environment {saved.env} moved since the plan was made "
            f"(planned on {saved.base or 'nothing'}, now at {ref.commit})",
            hint=hint,
        )
    moved = _moved_code(project.pipeline, saved, data) or _moved_data(project.pipeline, saved, data)
    if moved is not None:
        raise StalePlanError(moved, hint=hint)
    return saved


def _moved_code(pipeline: Pipeline, saved: Plan, data: Manifest) -> str | None:
    """What changed in a planned stage's definition (its code, schemas, exclusions)."""
    code = hash_code(pipeline, [s.name for s in saved.stages])
    for stage in saved.stages:
        now = stage_definition(pipeline, pipeline.stages[stage.name], code=code, data=data)
        if now.fingerprint != stage.definition:
            return f"the code of stage {stage.name} changed since the plan was made"
    return None


def _moved_data(pipeline: Pipeline, saved: Plan, data: Manifest) -> str | None:
    """Which input file or folder the plan read changed, if any: first a file of a planned
    datum, then any folder the stages read that no stage writes (files the plan left
    alone; applying it anyway would leave later stages stale)."""
    for stage in saved.stages:
        folders = {i.name: i.path for i in pipeline.stages[stage.name].inputs}
        for datum in stage.datums:
            for name, files in datum.files.items():
                for rel, entry in files.items():
                    path = f"{folders[name]}/{rel}" if rel else folders[name]  # "": one file
                    if data.files.get(path) != entry:
                        return f"{path} changed since the plan was made"
    for folder, digest in saved.sources.items():
        if source_digest(data, folder) != digest:
            return f"{folder}/ changed since the plan was made, in files it had nothing to run for"
    return None
