"""`kite fsck`: verify objects, refs, the CAS and kite.lock against the data directories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kitecli.errors import KiteError, ProjectError
from kitecli.history import ledger, tables
from kitecli.history.project import Project
from kitecli.history.state import EnvState
from kitecli.scan.hashing import hash_file
from kitecli.scan.manifest import Manifest
from kitecli.store.roots import open_root


def check(project: Project, *, cas: Any) -> list[str]:
    """Every problem found, in words; empty when all is well."""
    problems, commits = _reachable(project)
    if problems:
        return problems
    state, _ref = ledger.read_state(project.repo, project.env.name)
    root = open_root(project.env, project=project.pipeline.root, cached=False)
    try:
        data = root.manifest([""])
    finally:
        root.close()
    problems += _blobs(state, cas)
    for stage_name, stage in sorted(state.stages.items()):
        for kid, record in sorted(stage.datums.items()):
            for path, entry in sorted(record.outputs.items()):
                if record.status == "succeeded" and data.files.get(path) != entry:
                    what = "missing" if path not in data.files else "modified"
                    problems.append(f"data: {path} ({stage_name} {kid or '(whole)'}) is {what}")
    problems += _lock(project, data, commits)
    return problems


def _blobs(state: EnvState, cas: Any) -> list[str]:
    """Each blob the state refers to that is missing, or whose bytes no longer hash to its
    name (read again in a local store; an object store's are checked on download), with
    the outputs (`stage/path`) that refer to it."""
    users: dict[str, list[str]] = {}
    for stage_name, stage in sorted(state.stages.items()):
        for record in stage.datums.values():
            for path, entry in record.outputs.items():
                users.setdefault(entry.digest, []).append(f"{stage_name}/{path}")
    problems: list[str] = []
    for digest, used in sorted(users.items()):
        where = cas.local_path(digest)
        if not cas.has(digest):
            problems += [f"cache: blob {digest} of {u.partition('/')[2]} is missing" for u in used]
        elif where is not None and _hash_of(where) != digest:
            problems.append(f"cache: corrupt blob {digest} (used by {', '.join(sorted(used))})")
    return problems


def _hash_of(path: Path) -> str | None:
    try:
        return hash_file(path)[0]
    except FileNotFoundError:  # removed since it was listed
        return None


def _reachable(project: Project) -> tuple[list[str], list[str]]:
    """Read every object reachable from the environment's ref; reading verifies digests.
    Returns the problems and the environment's commits, newest first."""
    problems: list[str] = []
    commits: list[str] = []
    try:
        for found in ledger.history(project.repo, project.env.name):
            commits.append(found.digest)
            for digest in _objects_of(project.repo, found):
                try:
                    project.repo.get(digest)
                except KiteError as exc:
                    problems.append(f"metadata: {exc.message}")
    except KiteError as exc:
        problems.append(f"metadata: ref {project.env.name}: {exc.message}")
    return problems, commits


def datum_tables(repo: Any, found: ledger.Commit) -> list[str]:
    """The digests of a commit's datum tables: each stage's shards (`kite gc` reads them too)."""
    top = tables.load_json(repo, found.state)
    return [d for entry in top["stages"].values() for d in tables.digests(entry)]


def _objects_of(repo: Any, found: ledger.Commit) -> Iterator[str]:
    yield found.state
    yield from datum_tables(repo, found)
    if found.run is not None:
        yield found.run
        run = json.loads(repo.get(found.run))
        yield from (a["log"] for a in run.get("attempts", ()) if a.get("log"))


def _lock(project: Project, data: Manifest, commits: list[str]) -> list[str]:
    """kite.lock against the ref and the data. A lock naming an older commit of the
    environment is no damage: another machine (or a killed apply) committed after the apply
    that wrote it here, and the next apply here rewrites it."""
    path = project.pipeline.root / ledger.LOCK_FILE
    try:
        document = ledger.read_lock(path)
    except ProjectError as exc:
        return [f"lock: {exc.message}"]
    section = (document.get("environments") or {}).get(project.env.name)
    if section is None:
        return []
    problems: list[str] = []
    if section.get("commit") in commits[1:]:
        return []
    if not commits and section.get("commit"):
        problems.append(
            f"lock: {path.name} names commit {section.get('commit')}, but the repo has no "
            f"history of environment {project.env.name} (its ref is gone)"
        )
    elif section.get("commit") != (commits[0] if commits else None):
        problems.append(f"lock: {path.name} names commit {section.get('commit')}, the ref another")
    for stage_name, stage in (section.get("stages") or {}).items():
        for out_name, out in (stage.get("outputs") or {}).items():
            if not isinstance(out, dict) or not isinstance(out.get("path"), str):
                problems.append(f"lock: {stage_name}.{out_name} has no path in {path.name}")
                continue
            actual = data.subtree(out["path"].rstrip("/"))
            if actual.digest != out.get("digest"):
                problems.append(
                    f"lock: {stage_name}.{out_name} ({out['path']}) has digest {actual.digest}, "
                    f"{path.name} says {out.get('digest')}"
                )
    return problems
