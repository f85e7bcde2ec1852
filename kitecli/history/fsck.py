"""`kite fsck`: verify objects, refs, the CAS and kite.lock against the data directories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kitecli.errors import KiteError
from kitecli.history import ledger, tables
from kitecli.history.lineage import REPAIR, examine
from kitecli.history.project import Project
from kitecli.history.state import EnvState
from kitecli.scan.hashing import hash_file
from kitecli.scan.manifest import Manifest
from kitecli.scan.statcache import FILE_NAME as STATE_DB
from kitecli.store.roots import open_root
from kitecli.store.verified import Verified


def check(project: Project, *, cas: Any, every: bool = False) -> list[str]:
    """Every problem found, in words; empty when all is well. A local blob is read again
    when its stat changed since fsck last found it intact, or with `every`, always."""
    lineage = examine(project)
    problems = list(lineage.problems) + _reachable(project, lineage.history)
    if lineage.ref is None or len(problems) > len(lineage.problems):
        return problems
    state, _ref = ledger.read_state(project.repo, project.env.name)
    root = open_root(project.env, project=project.pipeline.root, cached=False)
    try:
        data = root.manifest([""])
    finally:
        root.close()
    verified = Verified(project.pipeline.root / ".kite" / STATE_DB)
    try:
        problems += [p for p, _d in blob_problems(state, cas, verified=None if every else verified)]
    finally:
        verified.close()
    for stage_name, stage in sorted(state.stages.items()):
        for kid, record in sorted(stage.datums.items()):
            for path, entry in sorted(record.outputs.items()):
                if record.status == "succeeded" and data.files.get(path) != entry:
                    what = "missing" if path not in data.files else "modified"
                    problems.append(f"data: {path} ({stage_name} {kid or '(whole)'}) is {what}")
    if not lineage.rewrite_lock:
        problems += _lock(project, data, lineage.history)
    return problems


def users_of(state: EnvState) -> dict[str, list[str]]:
    """Each output blob the state refers to, with the outputs (`stage/path`) that do."""
    users: dict[str, list[str]] = {}
    for stage_name, stage in sorted(state.stages.items()):
        for record in stage.datums.values():
            for path, entry in record.outputs.items():
                users.setdefault(entry.digest, []).append(f"{stage_name}/{path}")
    return users


def blob_problems(state: EnvState, cas: Any, *, verified: Verified | None) -> list[tuple[str, str]]:
    """Each blob the state refers to that is missing, or whose bytes no longer hash to its
    name (read again in a local store unless `verified` vouches for it; an object store's
    are checked on download), as (problem, digest)."""
    problems: list[tuple[str, str]] = []
    for digest, used in sorted(users_of(state).items()):
        where = cas.local_path(digest)
        if not cas.has(digest):
            problems += [
                (f"cache: blob {digest} of {u.partition('/')[2]} is missing", digest) for u in used
            ]
        elif where is None or (verified is not None and verified.unchanged(where)):
            continue
        elif _hash_of(where) != digest:
            said = f"cache: corrupt blob {digest} (used by {', '.join(sorted(used))}); {REPAIR}"
            problems.append((said, digest))
        elif verified is not None:
            verified.record(where)
    return problems


def _hash_of(path: Path) -> str | None:
    try:
        return hash_file(path)[0]
    except FileNotFoundError:  # removed since it was listed
        return None


def _reachable(project: Project, history: tuple[str, ...]) -> list[str]:
    """Read every object reachable from the environment's commits; reading verifies
    digests."""
    problems: list[str] = []
    for digest in history:
        try:
            found = ledger.read_commit(project.repo, digest)
            for obj in _objects_of(project.repo, found):
                try:
                    project.repo.get(obj)
                except KiteError as exc:
                    problems.append(f"metadata: {exc.message}")
        except KiteError as exc:
            problems.append(f"metadata: commit {digest}: {exc.message}")
    return problems


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


def _lock(project: Project, data: Manifest, history: tuple[str, ...]) -> list[str]:
    """kite.lock's outputs against the data, when it names the ref's commit. A lock naming
    an older commit of the environment is no damage: another machine (or a killed apply)
    committed after the apply that wrote it here, and the next apply here rewrites it."""
    path = project.pipeline.root / ledger.LOCK_FILE
    document = ledger.read_lock(path)
    section = (document.get("environments") or {}).get(project.env.name)
    if section is None or not history or section.get("commit") != history[0]:
        return []
    problems: list[str] = []
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
