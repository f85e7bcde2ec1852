"""An environment's ref against kite.lock and the commits its metadata repo holds.

The ref is the truth about an environment's history, but it is one small file: deleted,
overwritten with garbage or set back, the history behind it is still in the repo. kite.lock
is written only after the ref moved, so a lock naming a commit that descends from the ref
proves the ref was set back. `examine` names what is wrong and what `kite fsck --repair`
restores it from: the commit the lock names, else the newest commit of the environment
(docs/store.md, "What kite survives").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kitecli.errors import KiteError, ProjectError
from kitecli.history import ledger
from kitecli.history.project import Project

if TYPE_CHECKING:
    from kitecli.store.repo import Repo

REPAIR = "run `kite fsck --repair`, then `kite apply`"


@dataclass(frozen=True)
class Lineage:
    """What is wrong with an environment's ref and its kite.lock section, and the fixes."""

    problems: tuple[str, ...]
    ref: str | None  # the commit the ref names (None: gone or unreadable)
    history: tuple[str, ...]  # the ref's commits, newest first
    ref_to: str | None = None  # the commit the ref should name: repair moves it there
    rewrite_lock: bool = False  # repair writes the environment's section of kite.lock anew


def examine(project: Project) -> Lineage:
    """The ref and kite.lock of `project`'s environment, compared."""
    repo, env = project.repo, project.env.name
    ref, history, ref_problem = _ref(repo, env)
    lock = project.pipeline.root / ledger.LOCK_FILE
    locked, lock_problem = lock_commit(lock, env)
    problems = tuple(p for p in (ref_problem, lock_problem) if p)
    if ref is not None and (locked is None or locked in history):
        return Lineage(problems, ref, tuple(history), rewrite_lock=bool(lock_problem))
    commits = _commits(repo, env)
    if ref is not None:  # the lock names a commit the ref's history does not hold
        best = _newest(commits, locked)
        if best is not None and ref in _chain(commits, best):
            said = (
                f"metadata: ref {env} names {ref}, older than the commit {locked} that "
                f"{lock.name} names (the ref was set back); {REPAIR}"
            )
            return Lineage((*problems, said), ref, tuple(history), ref_to=best, rewrite_lock=True)
        said = (
            f"lock: {lock.name} names commit {locked}, which is not in the history of "
            f"environment {env} (its ref names {ref}); {REPAIR}"
        )
        return Lineage((*problems, said), ref, tuple(history), rewrite_lock=True)
    return _lost(problems, locked, commits, lock.name, env, unreadable=ref_problem is not None)


def _lost(
    problems: tuple[str, ...],
    locked: str | None,
    commits: dict[str, ledger.Commit],
    lock: str,
    env: str,
    *,
    unreadable: bool,
) -> Lineage:
    """The ref is gone or unreadable: restore it from the lock's commit (or one after it),
    else from the environment's newest commit."""
    target = _newest(commits, locked) or _newest(commits, None)
    if target is None:
        if locked and not unreadable:
            problems += (
                f"lock: {lock} names commit {locked}, but the repo has no history of "
                f"environment {env} (its ref is gone, and no commit of it is left)",
            )
        return Lineage(problems, None, ())
    gone = (
        f"metadata: ref {env} is gone (its ref is gone); the repo"
        if not unreadable
        else ("metadata: the repo")
    )
    problems += (f"{gone} still holds the commits of {env}, the newest {target}; {REPAIR}",)
    return Lineage(problems, None, (), ref_to=target, rewrite_lock=True)


def _ref(repo: Repo, env: str) -> tuple[str | None, list[str], str | None]:
    """The ref's commit, its history newest first, and what is wrong with it."""
    try:
        ref = repo.ref(env).commit
    except KiteError as exc:
        return None, [], f"metadata: {exc.message}"
    history: list[str] = []
    try:
        for found in ledger.history(repo, env):
            history.append(found.digest)
    except KiteError as exc:
        if not history:
            return (
                None,
                [],
                f"metadata: ref {env} names {ref}, not a readable commit: {exc.message}",
            )
    return ref, history, None


def lock_commit(path: Path, env: str) -> tuple[str | None, str | None]:
    """The commit kite.lock names for `env` (None if none) and what is wrong with the lock."""
    try:
        document = ledger.read_lock(path)
    except ProjectError as exc:
        return None, f"lock: {exc.message}"
    if path.is_file() and not document:
        return None, f"lock: {path.name} is empty (a file `kite apply` never writes)"
    section = (document.get("environments") or {}).get(env) or {}
    commit = section.get("commit")
    if commit is not None and not isinstance(commit, str):
        return None, f"lock: {path.name} names commit {commit!r} for {env}, not a digest"
    return commit or None, None


def _commits(repo: Repo, env: str) -> dict[str, ledger.Commit]:
    """Every intact commit of `env` in the repo (its state is there too), by digest."""
    found: dict[str, ledger.Commit] = {}
    for digest in repo.objects():
        try:
            raw = repo.get(digest)
            if not raw.startswith(b"{"):
                continue
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("kind") != "commit":
                continue
            commit = ledger.read_commit(repo, digest)
        except (KiteError, ValueError, KeyError, TypeError):
            continue
        if commit.env == env and repo.has(commit.state):
            found[digest] = commit
    return found


def _chain(commits: dict[str, ledger.Commit], head: str) -> list[str]:
    """`head` and its ancestors, as far as the repo holds them."""
    chain: list[str] = []
    at: str | None = head
    while at is not None and at in commits and at not in chain:
        chain.append(at)
        at = commits[at].parent
    return chain


def _newest(commits: dict[str, ledger.Commit], after: str | None) -> str | None:
    """The newest commit that is, or descends from, `after` (any commit when None)."""
    if after is not None and after not in commits:
        return None
    parents = {c.parent for c in commits.values()}
    heads = [c for d, c in commits.items() if d not in parents]
    if after is not None:
        heads = [c for c in heads if after in _chain(commits, c.digest)]
    return max(heads, key=lambda c: c.time).digest if heads else None
