"""Open a project for a command: the pipeline, the chosen environment, its metadata repo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitecli import spec
from kitecli.errors import UsageError
from kitecli.model import Environment, Pipeline


def select_environment(pipeline: Pipeline, name: str | None) -> Environment:
    """`--env`, else KITE_ENV, else the first environment pipeline.yaml declares."""
    wanted = name or os.environ.get("KITE_ENV")
    if wanted is None:
        return next(iter(pipeline.environments.values()))
    if wanted not in pipeline.environments:
        known = ", ".join(pipeline.environments)
        raise UsageError(
            f"no environment {wanted!r} in {pipeline.path.name}", hint=f"one of: {known}"
        )
    return pipeline.environments[wanted]


@dataclass(frozen=True)
class Project:
    pipeline: Pipeline
    env: Environment
    repo: Any  # kitecli.store.repo.Repo


def open_project(file: Path | None, env: str | None) -> Project:
    """Load and validate the pipeline, pick the environment, open its metadata repo."""
    from kitecli.store.repo import open_repo

    pipeline = spec.load(file)
    environment = select_environment(pipeline, env)
    repo = open_repo(environment.metadata, endpoint_url=environment.endpoint_url)
    return Project(pipeline, environment, repo)
