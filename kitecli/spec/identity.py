"""Who an environment's commands run as, so file permissions protect production as a second
line behind kite's own write checks (kitecli/env/guard.py): the local executor's `run_as` uid
(when kite runs as root) and each stage's Kubernetes service account differ between an
environment and the one it `reads:`. See docs/environments.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from kitecli.spec.model import Environment, Pipeline

Problem = tuple[tuple[str | int, ...], str, str]  # (where in pipeline.yaml, message, hint)


def conflicts(pipeline: Pipeline) -> Iterator[Problem]:
    """An environment that reads another must not run its commands as that one does."""
    for env in pipeline.environments.values():
        other = pipeline.environments.get(env.reads) if env.reads else None
        if other is None or other.name == env.name:
            continue
        if env.run_as is not None and env.run_as == other.run_as:
            yield (
                ("environments", env.name, "run_as"),
                f"environment '{env.name}' runs its commands as uid {env.run_as}, like "
                f"environment '{other.name}', which it reads",
                f"give it a run_as of its own, so that file permissions keep its commands "
                f"out of the data of '{other.name}'",
            )
        yield from _shared_accounts(pipeline, env, other)


def _shared_accounts(pipeline: Pipeline, env: Environment, other: Environment) -> Iterator[Problem]:
    if (env.namespace or "default") != (other.namespace or "default"):
        return  # service accounts are namespaced: the same name is another account
    seen: set[str] = set()
    for stage in pipeline.stages.values():
        if stage.base in seen or stage.identity is None or "{env}" in stage.identity:
            continue
        seen.add(stage.base)
        on_cluster = all(pipeline.executor_for(stage, e) == "kubernetes" for e in (env, other))
        if on_cluster:
            yield (
                ("stages", stage.base, "identity"),
                f"identity '{stage.identity}' is one service account for environment "
                f"'{env.name}' and environment '{other.name}', which it reads "
                f"(namespace {env.namespace or 'default'})",
                "write {env} in it (like etl-{env}), or give the environments namespaces "
                "of their own",
            )


def warnings(pipeline: Pipeline, env: Environment, *, euid: int | None = None) -> list[str]:
    """What weakens the second line in this run: commands of a `reads:` environment as root."""
    if env.reads is None or env.run_as is not None:
        return []
    if (os.geteuid() if euid is None else euid) != 0:
        return []
    executors = {pipeline.executor_for(s, env) for s in pipeline.stages.values()}
    if "local" not in executors:
        return []
    return [
        f"warning: kite runs as root and environment '{env.name}' has no run_as: its "
        f"commands run as root, so file permissions do not keep them out of the data of "
        f"'{env.reads}' (kite's own writes are still checked)"
    ]
