"""`kite fsck --repair`: put right what `kite fsck` finds, from what is still intact.

- A ref that is gone, unreadable or set back is pointed again at the newest commit the
  environment had (kitecli/history/lineage.py says which).
- kite.lock's section of the environment, when empty, malformed or naming another commit,
  is written anew from the ref's state; a lock that cannot be read is moved aside first,
  to `.kite/damaged/`.
- A blob that no longer hashes to its name is quarantined (`<cache>/quarantine/`); it, or
  a missing one, is stored again from the data folder when the output there still has its
  bytes; otherwise the next `kite apply` runs what made it again.

Nothing is deleted and no output is changed: data folders are `kite apply`'s to put right.
The repair holds the environment's apply lease, so no apply commits meanwhile.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from kitecli.errors import ProjectError
from kitecli.history import ledger
from kitecli.history.fsck import blob_problems, users_of
from kitecli.history.lineage import examine
from kitecli.history.project import Project
from kitecli.history.state import EnvState
from kitecli.scan.hashing import hash_file
from kitecli.scan.manifest import FileEntry
from kitecli.spec.build import is_url
from kitecli.store.lease import ttl as lease_ttl

HOLDER = "kite fsck --repair"


def repair(project: Project, *, cas: Any) -> list[str]:
    """Repair the environment; say what was done, one line each."""
    repo, env = project.repo, project.env.name
    lease = repo.acquire(env, holder=HOLDER, ttl=lease_ttl())
    try:
        done: list[str] = []
        lineage = examine(project)
        if lineage.ref_to is not None:
            repo.restore_ref(env, lineage.ref_to)
            done.append(f"metadata: ref {env} restored to {lineage.ref_to}")
        if lineage.rewrite_lock or lineage.ref_to is not None:
            done += _rewrite_lock(project)
        state, ref = ledger.read_state(repo, env)
        if ref.commit is not None:
            done += _blobs(project, state, cas)
        return done
    finally:
        repo.release(lease)


def _rewrite_lock(project: Project) -> list[str]:
    path = project.pipeline.root / ledger.LOCK_FILE
    done: list[str] = []
    try:
        ledger.read_lock(path)
    except ProjectError:
        aside = project.pipeline.root / ".kite" / "damaged" / f"{path.name}.{time.time_ns()}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, aside)
        done.append(f"lock: {path.name} could not be read; moved to {_shown(project, aside)}")
    state, ref = ledger.read_state(project.repo, project.env.name)
    if ref.commit is None:
        return done
    ledger.write_lock(project.pipeline, state, committed_files(state), commit=ref.commit)
    done.append(f"lock: {path.name} written anew for {project.env.name} from {ref.commit}")
    return done


def committed_files(state: EnvState) -> dict[str, FileEntry]:
    """Every output file the state says is in the data folder, by data-root path."""
    return {
        path: entry
        for stage in state.stages.values()
        for record in stage.datums.values()
        if record.status == "succeeded"
        for path, entry in record.outputs.items()
    }


def _blobs(project: Project, state: EnvState, cas: Any) -> list[str]:
    """Quarantine each damaged blob, and store it again from the data folder where an
    output there still holds its bytes."""
    done: list[str] = []
    users = users_of(state)
    for digest in sorted({d for _said, d in blob_problems(state, cas, verified=None)}):
        cas.verify(digest)  # a corrupt local blob is moved to the quarantine
        source = _intact_copy(project, digest, users[digest])
        if source is not None:
            cas.ingest(source, entry=FileEntry(digest, source.stat().st_size))
            done.append(f"cache: blob {digest} stored again from {_shown(project, source)}")
        else:
            done.append(
                f"cache: blob {digest} taken out of the store; the next `kite apply` runs "
                "what made it again"
            )
    return done


def _intact_copy(project: Project, digest: str, used: list[str]) -> Path | None:
    if is_url(project.env.data):
        return None
    for user in used:
        path = Path(project.env.data) / user.partition("/")[2]
        try:
            if path.is_file() and not path.is_symlink() and hash_file(path)[0] == digest:
                return path
        except OSError:
            continue
    return None


def _shown(project: Project, path: Path) -> str:
    root = project.pipeline.root
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
