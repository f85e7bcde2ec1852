"""Open a project for a command: the pipeline, the chosen environment, its metadata repo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitecli.errors import Damaged
from kitecli.history import ledger
from kitecli.history.state import EnvState, RunCacheEntry
from kitecli.spec import loader
from kitecli.spec.loader import choose_environment
from kitecli.spec.model import Environment, Pipeline

if TYPE_CHECKING:
    from kitecli.store.repo import Ref, Repo


@dataclass(frozen=True)
class Project:
    pipeline: Pipeline
    env: Environment
    repo: Repo
    read_repo: Repo | None = None  # with `reads:`, the other environment's repo, if not ours

    def committed(self) -> tuple[EnvState, Ref]:
        """The environment's committed state and the ref it was read at; Damaged when the
        repo has no history of the environment although kite.lock names its commit."""
        state, ref = ledger.read_state(self.repo, self.env.name)
        if ref.commit is None:
            self._not_lost()
        return state, ref

    def history(self) -> None:
        """Check, without reading the state, that the environment's history is not lost."""
        if self.repo.ref(self.env.name).commit is None:
            self._not_lost()

    def _not_lost(self) -> None:
        name = self.env.name
        lock = ledger.read_lock(self.pipeline.root / ledger.LOCK_FILE)
        section = (lock.get("environments") or {}).get(name) or {}
        commit = section.get("commit")
        if not commit:
            return
        raise Damaged(
            f"the metadata repo {self.env.metadata} holds no history of environment {name!r}, "
            f"but {ledger.LOCK_FILE} names its commit {str(commit)[:12]}",
            hint=f"its ref was deleted or `metadata:` points elsewhere: fix `metadata:` or "
            f"restore refs/{name} from a backup; to start a new history on purpose, delete "
            f"environments.{name} from {ledger.LOCK_FILE}",
        )

    def run_cache(self, fingerprint: str) -> RunCacheEntry | None:
        """This environment's run cache, then that of the environment it reads."""
        found = ledger.cache_get(self.repo, fingerprint)
        if found is None and self.read_repo is not None:
            found = ledger.cache_get(self.read_repo, fingerprint)
        return found


def open_project(
    file: Path | None, env: str | None, *, params: Sequence[str] | Mapping[str, Any] = ()
) -> Project:
    """Load and validate the pipeline, pick the environment, open its metadata repo.

    `params`: `NAME=VALUE` items from `--param` (or a saved plan's typed values) that
    override the pipeline's params for this command (kitecli/spec/params.py).
    """
    from kitecli.store import open_repo

    pipeline = loader.load(file)
    if params:
        from kitecli.spec import params as kite_params

        pipeline = kite_params.override(pipeline, kite_params.parse(params, pipeline.params))
    environment = choose_environment(pipeline, env)
    from kitecli.env.reads import run_cache_repo

    repo = open_repo(environment.metadata, endpoint_url=environment.endpoint_url)
    return Project(pipeline, environment, repo, run_cache_repo(pipeline, environment))
