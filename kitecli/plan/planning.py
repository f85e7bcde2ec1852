"""The `kite plan` call, at the I/O edge: load the pipeline, pick the environment, scan the
data directories, hash the code files, read the committed state, then make the pure plan.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kitecli.errors import ProjectError
from kitecli.history.project import Project
from kitecli.history.state import EnvState
from kitecli.plan.missing import check_inputs
from kitecli.plan.plan import Force, Plan, RunCache, make_plan, no_run_cache, select
from kitecli.scan import manifest
from kitecli.scan.folders import Scanner, scan_data
from kitecli.scan.hashing import hash_file
from kitecli.spec import loader
from kitecli.spec.build import is_url
from kitecli.spec.gates import schema_files
from kitecli.spec.loader import choose_environment
from kitecli.spec.model import Environment, Pipeline

StateReader = Callable[[Environment], EnvState]


def no_state(env: Environment) -> EnvState:
    """The state of an environment nothing was ever applied to."""
    return EnvState(env=env.name)


@dataclass(frozen=True)
class Planned:
    """A plan and what it was made from."""

    pipeline: Pipeline
    env: Environment
    plan: Plan


def plan(
    file: Path | None = None,
    *,
    env: str | None = None,
    stages: Sequence[str] = (),
    downstream: bool = False,
    state_reader: StateReader = no_state,
    run_cache: RunCache = no_run_cache,
    force: Force | None = None,
    scan: Scanner | None = None,
    now: dt.datetime | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Planned:
    """Plan the pipeline at `file` (default: pipeline.yaml here or in a parent)."""
    pipeline = loader.load(file)
    environment = choose_environment(pipeline, env, environ)
    result = plan_pipeline(
        pipeline,
        environment,
        state=state_reader(environment),
        stages=stages,
        downstream=downstream,
        run_cache=run_cache,
        force=force,
        scan=scan,
        now=now,
    )
    return Planned(pipeline, environment, result)


def plan_pipeline(
    pipeline: Pipeline,
    environment: Environment,
    *,
    state: EnvState,
    data: manifest.Manifest | None = None,
    stages: Sequence[str] = (),
    downstream: bool = False,
    run_cache: RunCache = no_run_cache,
    force: Force | None = None,
    scan: Scanner | None = None,
    now: dt.datetime | None = None,
    triggers: bool = True,
) -> Plan:
    """Plan a loaded pipeline in one environment against its committed `state`.

    `data` is the data root's manifest when the caller has it; otherwise the folders the
    stages read and write are scanned (with `scan`, default through the stat cache).
    """
    names = select(pipeline, stages, downstream=downstream)
    if data is None:
        data = scan_selected(pipeline, environment, names, scan=scan)
    if is_url(environment.data):
        check_inputs(pipeline, names, data)
    else:
        check_inputs(pipeline, names, data, closest=partial(closest, Path(environment.data)))
    moment = now or dt.datetime.now()
    return make_plan(
        pipeline,
        env=environment.name,
        state=state,
        data=data,
        code=hash_code(pipeline, names),
        today=moment.date(),
        now=moment,
        run_cache=run_cache,
        stages=names,
        force=force,
        triggers=triggers,
    )


def scan_selected(
    pipeline: Pipeline,
    environment: Environment,
    names: Sequence[str],
    *,
    scan: Scanner | None = None,
) -> manifest.Manifest:
    """The manifest of every folder the named stages read or write.

    With `reads:`, the folders they read but do not write are scanned in the data root of
    the environment read from (kitecli/env/reads.py); the manifest does not say which root a
    folder came from: `reads.borrowed` does, for the planner and the input views alike.
    """
    from kitecli.env.reads import borrowed

    folders = [p for n in names for p in _paths(pipeline, n)]
    elsewhere = borrowed(pipeline, environment, names)
    if scan is not None:
        return scan_data(data_root(environment), folders, scan=scan, elsewhere=elsewhere)
    from kitecli.store.roots import open_root

    root = open_root(environment, project=pipeline.root)
    try:
        return root.manifest(folders, elsewhere=elsewhere)
    finally:
        root.close()


def data_root(env: Environment) -> Path:
    """The environment's data root as a local folder (kitecli.store.roots opens any data root)."""
    if is_url(env.data):
        raise ProjectError(
            f"environment {env.name}: {env.data} is not a local folder",
            hint="scan it through kitecli.store.roots.open_root",
        )
    return Path(env.data)


def _paths(pipeline: Pipeline, name: str) -> list[str]:
    stage = pipeline.stages[name]
    return [i.path for i in stage.inputs] + [o.path for o in stage.outputs]


def hash_code(pipeline: Pipeline, names: Iterable[str]) -> dict[str, str]:
    """The digest of every `code:` and `accept.json_schema` file of the named stages."""
    digests: dict[str, str] = {}
    for name in names:
        stage = pipeline.stages[name]
        for path in (*stage.code, *schema_files(stage)):
            if path in digests:
                continue
            try:
                digests[path] = hash_file(pipeline.root / path)[0]
            except OSError as exc:
                raise ProjectError(
                    f"stage {name}: cannot read {path}: {exc.strerror}",
                    hint="paths in `code:` and `json_schema:` are relative to the folder of "
                    "pipeline.yaml",
                ) from exc
    return digests


def plan_project(
    project: Project,
    state: EnvState,
    *,
    data: manifest.Manifest | None = None,
    stages: Sequence[str] = (),
    downstream: bool = False,
    force: Force | None = None,
    triggers: bool = True,
) -> Plan:
    """Plan against `state` (and `data`, else a scan), with the project's run cache;
    `triggers=False` (`--now`) lets no stage's `trigger:` hold its datums back."""
    return plan_pipeline(
        project.pipeline,
        project.env,
        state=state,
        data=data,
        stages=stages,
        downstream=downstream,
        run_cache=project.run_cache,
        force=force,
        triggers=triggers,
    )


def scan_project(
    project: Project, stages: Sequence[str] = (), *, downstream: bool = False
) -> manifest.Manifest:
    """The data root's manifest: the folders the selected stages read and write."""
    names = select(project.pipeline, stages, downstream=downstream)
    return scan_selected(project.pipeline, project.env, names)


def closest(root: Path, path: str) -> str | None:
    """The existing folder under `root` whose path is nearest `path` (difflib), if any."""
    parent, _, leaf = path.rpartition("/")
    base = root / parent if parent else root
    try:
        found = [e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return closest(root, parent) if parent else None
    match = difflib.get_close_matches(leaf, found, n=1, cutoff=0.6)
    if not match:
        return None
    return f"{parent}/{match[0]}" if parent else match[0]
