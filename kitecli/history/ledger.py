"""Committed state in the metadata repo: commits, datum tables, the run cache, kite.lock."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitecli.errors import ProjectError
from kitecli.history import tables
from kitecli.history.state import EnvState, RunCacheEntry, StageState, from_json, stage_header
from kitecli.history.tables import dumps, load_json
from kitecli.scan.listing import Listing
from kitecli.scan.manifest import FileEntry
from kitecli.spec.model import Pipeline

if TYPE_CHECKING:  # imported where used: reading the state needs none of it
    from kitecli.history.records import RunRecord
    from kitecli.store.repo import Ref, Repo

LOCK_FILE = "kite.lock"


@dataclass(frozen=True)
class Commit:
    """One commit object: a snapshot of an environment's state and the run that made it."""

    digest: str
    parent: str | None
    env: str
    pipeline: str
    state: str
    run: str | None
    time: float
    user: str
    message: str


def read_commit(repo: Repo, digest: str) -> Commit:
    data = load_json(repo, digest)
    if data.get("kind") != "commit":
        raise ProjectError(f"object {digest} is not a commit", hint="run `kite fsck`")
    return Commit(digest=digest, **{k: data[k] for k in _COMMIT_FIELDS})


_COMMIT_FIELDS = ("parent", "env", "pipeline", "state", "run", "time", "user", "message")


def read_state(repo: Repo, env: str) -> tuple[EnvState, Ref]:
    """The environment's committed state and the ref it was read at."""
    ref = repo.ref(env)
    if ref.commit is None:
        return EnvState(env=env), ref
    commit = read_commit(repo, ref.commit)
    top = load_json(repo, commit.state)
    stages = {
        name: {**entry, "datums": tables.load(repo, entry)} for name, entry in top["stages"].items()
    }
    state = from_json({"env": env, "pipeline": commit.pipeline, "stages": stages})
    return dataclasses.replace(state, commit=ref.commit), ref


def write_state(repo: Repo, state: EnvState) -> str:
    """Store the state as the shards of each stage's datum table plus a top object; a shard
    stored before (read, or written at an earlier checkpoint) is not written again."""
    top = {
        name: {**stage_header(stage), "shards": tables.store(repo, stage.datums)}
        for name, stage in sorted(state.stages.items())
    }
    return repo.put(dumps({"kind": "state", "stages": top}))


def commit(
    repo: Repo,
    *,
    env: str,
    expected: Ref,
    state: EnvState,
    run: RunRecord | None,
    pipeline: str,
    user: str,
    message: str,
) -> tuple[str, Ref]:
    """Write the objects, then move the ref by compare-and-swap; returns (commit, new ref)."""
    from kitecli.history.records import run_to_json

    body = {
        "kind": "commit",
        "parent": expected.commit,
        "env": env,
        "pipeline": pipeline,
        "state": write_state(repo, state),
        "run": None if run is None else repo.put(dumps(run_to_json(run))),
        "time": time.time(),
        "user": user,
        "message": message,
    }
    digest = repo.put(dumps(body))
    return digest, repo.set_ref(env, digest, expected=expected)


def history(repo: Repo, env: str) -> Iterator[Commit]:
    """Commits of an environment, newest first."""
    digest = repo.ref(env).commit
    while digest is not None:
        found = read_commit(repo, digest)
        yield found
        digest = found.parent


def runs(repo: Repo, env: str) -> Iterator[RunRecord]:
    """Each run once, newest first, as its last checkpoint recorded it."""
    from kitecli.history.records import run_from_json

    seen: set[str] = set()
    for found in history(repo, env):
        if found.run is None:
            continue
        record = run_from_json(load_json(repo, found.run))
        if record.id not in seen:
            seen.add(record.id)
            yield record


def cache_put(repo: Repo, entry: RunCacheEntry) -> None:
    """Remember what a datum with this fingerprint produced (the first writer wins)."""
    data = {
        "run": entry.run,
        "outputs": {
            name: {p: [e.digest, e.size] for p, e in sorted(files.items())}
            for name, files in sorted(entry.outputs.items())
        },
    }
    # a lost entry costs a cache miss; cache_get treats a torn one as missing
    repo.put_named(_cache_name(entry.fingerprint), dumps(data), durable=False)


def cache_get(repo: Repo, fingerprint: str) -> RunCacheEntry | None:
    raw = repo.get_named(_cache_name(fingerprint))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        outputs = {
            n: {p: FileEntry(d, s) for p, (d, s) in f.items()} for n, f in data["outputs"].items()
        }
    except (ValueError, KeyError, TypeError):
        return None  # torn by a crash: as good as absent
    return RunCacheEntry(fingerprint, outputs, data.get("run"))


def _cache_name(fingerprint: str) -> str:
    digest = fingerprint.removeprefix("b3:")
    return f"runcache/{digest[:2]}/{digest[2:]}"


_LOCK_FIX = "kite.lock is written by `kite apply`; delete it and the next apply writes it anew"


def read_lock(path: Path) -> dict[str, Any]:
    """kite.lock as a mapping (empty when there is none), its shape checked: a lock that is
    not YAML, or not the mapping `kite apply` writes, is a ProjectError naming the place."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not path.exists():
        return {}
    try:
        document = YAML(typ="safe").load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path.name}: cannot be read: {exc}", hint=_LOCK_FIX) from exc
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ProjectError(f"{path.name}{where}: not YAML", hint=_LOCK_FIX) from exc
    _check_lock(path, document)
    return dict(document)


def _check_lock(path: Path, document: object) -> None:
    """The shape `write_lock` writes: environments → name → {stages → name → mapping}."""

    def bad(what: str) -> ProjectError:
        return ProjectError(f"{path.name}: {what} is not a mapping", hint=_LOCK_FIX)

    if not isinstance(document, dict):
        raise bad("the document")
    envs = document.get("environments") or {}
    if not isinstance(envs, dict):
        raise bad("`environments`")
    for name, section in envs.items():
        if not isinstance(section, dict):
            raise bad(f"`environments.{name}`")
        stages = section.get("stages") or {}
        if not isinstance(stages, dict):
            raise bad(f"`environments.{name}.stages`")
        for stage, entry in stages.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("outputs") or {}, dict):
                raise bad(f"`environments.{name}.stages.{stage}`")


def write_lock(
    pipeline: Pipeline,
    state: EnvState,
    files: Mapping[str, FileEntry],
    *,
    commit: str,
    scope: Collection[str] | None = None,
) -> Path:
    """Rewrite this environment's section of kite.lock (others' sections are kept). `files`
    holds the outputs of the stages in `scope` (a run of some stages scans only theirs);
    the outputs of the others are those their datums' records say are committed."""
    from ruamel.yaml import YAML

    path = pipeline.root / LOCK_FILE
    tree = files if isinstance(files, Listing) else Listing(files)  # a run's: only what changed
    section: dict[str, Any] = {"commit": commit, "pipeline": pipeline.digest, "stages": {}}
    for name, stage_state in sorted(state.stages.items()):
        stage = pipeline.stages.get(name)
        held = tree if scope is None or name in scope else Listing(_committed(stage_state))
        section["stages"][name] = _lock_stage(stage_state, stage.outputs if stage else (), held)
    yaml = YAML()
    yaml.default_flow_style = False
    guard = pipeline.root / ".kite" / "lock.flock"
    guard.parent.mkdir(parents=True, exist_ok=True)
    with _locked(guard):
        envs: dict[str, Any] = dict(read_lock(path).get("environments") or {})
        envs[state.env] = section
        document = {"kite_lock": 1, "environments": dict(sorted(envs.items()))}
        tmp = path.with_name(f".{LOCK_FILE}.{os.getpid()}")
        with tmp.open("w") as handle:
            handle.write("# Written by `kite apply`: the committed state of each environment.\n")
            yaml.dump(document, handle)
        os.replace(tmp, path)
    return path


def _committed(stage_state: StageState) -> dict[str, FileEntry]:
    """The output files a stage's records say are in the data folder."""
    return {
        path: entry
        for record in stage_state.datums.values()
        if record.status == "succeeded"
        for path, entry in record.outputs.items()
    }


def _lock_stage(stage_state: StageState, outputs: Any, tree: Listing) -> dict[str, Any]:
    counts = tables.counts(stage_state.datums)
    entry: dict[str, Any] = {
        "definition": stage_state.definition,
        "datums": len(stage_state.datums),
        "counts": dict(sorted(counts.items())),
        "outputs": {},
    }
    for out in outputs:
        digest, count, nbytes = tree.summary(out.path)
        entry["outputs"][out.name] = {
            "path": out.path + "/",
            "digest": digest,
            "files": count,
            "bytes": nbytes,
        }
    return entry


class _locked:
    """An exclusive advisory lock on a file, for read-modify-write of kite.lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
