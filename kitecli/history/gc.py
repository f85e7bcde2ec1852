"""`kite gc`: remove from the content store the blobs no commit and no run-cache entry needs.

Marks every blob referenced by any commit reachable from any ref of the pipeline's metadata
repos (all history, so `kite show` and rollbacks keep working) and by any run-cache entry,
then sweeps the selected stores of the rest, keeping anything written within the grace
period. It holds the apply lease of every environment while it works, so no apply can
start (or commit a reference to a blob about to go) meanwhile.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kitecli.errors import LeaseBusy, UsageError
from kitecli.history import ledger, tables
from kitecli.history.fsck import datum_tables
from kitecli.spec.model import Environment, Pipeline
from kitecli.store import open_cas, open_repo
from kitecli.store.blobs import CAS, Blob
from kitecli.store.ifbusy import IfBusy, Tenure, held
from kitecli.store.lease import Lease
from kitecli.store.lease import ttl as lease_ttl
from kitecli.store.repo import Repo

GRACE = 86400.0  # one day, like git's prune expiry
HOLDER = "kite gc"


@dataclass(frozen=True)
class Sweep:
    """What gc did (or, on a dry run, would do) to one store."""

    store: str
    removed: tuple[Blob, ...]
    kept: int  # referenced blobs
    young: int  # unreferenced, but written within the grace period
    dry_run: bool

    @property
    def bytes(self) -> int:
        return sum(b.size for b in self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "removed": len(self.removed),
            "bytes": self.bytes,
            "kept": self.kept,
            "young": self.young,
            "dry_run": self.dry_run,
            "digests": sorted(b.digest or b.key for b in self.removed),
        }


def garbage(blobs: Iterable[Blob], *, keep: set[str], cutoff: float) -> tuple[list[Blob], int, int]:
    """(the blobs to remove, how many are referenced, how many are too young): a blob goes
    when nothing references it and it was last written before `cutoff`; one whose time
    the store does not give is kept."""
    doomed: list[Blob] = []
    kept = young = 0
    for blob in blobs:
        if blob.digest is not None and blob.digest in keep:
            kept += 1
        elif blob.modified is None or blob.modified >= cutoff:
            young += 1
        else:
            doomed.append(blob)
    return doomed, kept, young


def referenced(repo: Repo) -> set[str]:
    """Every blob digest that a commit of any ref of `repo`, or a run-cache entry, names."""
    found: set[str] = set()
    seen_tables: set[str] = set()
    seen_commits: set[str] = set()
    for env in repo.envs():
        for commit in ledger.history(repo, env):
            if commit.digest in seen_commits:
                break  # the rest of this history was read from another ref
            seen_commits.add(commit.digest)
            for table in datum_tables(repo, commit):
                if table not in seen_tables:
                    seen_tables.add(table)
                    found |= _table_blobs(tables.load_json(repo, table))
    for name in repo.list_named("runcache"):
        found |= _cache_blobs(repo.get_named(name))
    return found


def _table_blobs(table: dict[str, Any]) -> set[str]:
    return {d for record in table.values() for d, _size in record["outputs"].values()}


def _cache_blobs(raw: bytes | None) -> set[str]:
    """The blobs a run-cache entry names; none for one torn by a crash (read as absent)."""
    try:
        outputs = json.loads(raw or b"")["outputs"]
        return {d for files in outputs.values() for d, _size in files.values()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def collect(
    pipeline: Pipeline,
    *,
    envs: Sequence[str] = (),
    grace: float = GRACE,
    dry_run: bool = False,
    if_busy: IfBusy = "fail",
    say: Callable[[str], None] = lambda _msg: None,
    now: Callable[[], float] = time.time,
) -> list[Sweep] | None:
    """Collect the stores of `envs` (every environment's when empty); None when `if_busy`
    is "skip" and an apply holds a lease. Marks with every environment of the pipeline:
    a store may be shared, and `reads:` lets one environment use another's run cache.
    A dry run writes nothing, not even the leases."""
    every = list(pipeline.environments.values())
    unknown = [name for name in envs if name not in pipeline.environments]
    if unknown:
        raise UsageError(
            f"no environment {', '.join(map(repr, unknown))} in {pipeline.path.name}",
            hint=f"environments: {', '.join(pipeline.environments)}",
        )
    chosen = [pipeline.environments[name] for name in envs] if envs else every
    with hold_leases([] if dry_run else every, if_busy=if_busy, say=say) as held:
        if not held:
            return None
        cutoff = now() - grace
        stores = _stores(chosen)
        listed = {where: list(cas.blobs()) for where, cas in stores.items()}
        keep: set[str] = set()
        for repo in _repos(every).values():
            keep |= referenced(repo)
        sweeps = []
        for where, cas in stores.items():
            doomed, kept, young = garbage(listed[where], keep=keep, cutoff=cutoff)
            if not dry_run:
                for blob in doomed:
                    if held.lost is not None:  # an apply may be writing now: stop deleting
                        raise held.lost
                    cas.remove(blob)
            sweeps.append(Sweep(where, tuple(doomed), kept, young, dry_run))
        return sweeps


def _stores(envs: Iterable[Environment]) -> dict[str, CAS]:
    """Each distinct content store of `envs`, by location."""
    return {
        env.cache: open_cas(env.cache, endpoint_url=env.endpoint_url)
        for env in sorted(envs, key=lambda e: e.name)
    }


def _repos(envs: Iterable[Environment]) -> dict[str, Repo]:
    return {
        env.metadata: open_repo(env.metadata, endpoint_url=env.endpoint_url)
        for env in sorted(envs, key=lambda e: e.name)
    }


@contextmanager
def hold_leases(
    envs: Sequence[Environment], *, if_busy: IfBusy, say: Callable[[str], None]
) -> Iterator[Tenure]:
    """Hold the apply lease of every environment for the block (all or none, renewed in the
    background); yields a false Tenure, holding nothing, when `if_busy` is "skip" and one
    is held."""
    ttl = lease_ttl()
    repos = _repos(envs)
    wanted = [(repos[env.metadata], env.name) for env in envs]

    def acquire_all() -> list[tuple[Repo, Lease]]:
        taken: list[tuple[Repo, Lease]] = []
        try:
            for repo, name in wanted:
                taken.append((repo, repo.acquire(name, holder=HOLDER, ttl=ttl)))
        except LeaseBusy:
            release_all(taken)
            raise
        return taken

    def renew_all(leases: list[tuple[Repo, Lease]]) -> list[tuple[Repo, Lease]]:
        return [(repo, repo.renew(lease, ttl=ttl)) for repo, lease in leases]

    def release_all(leases: list[tuple[Repo, Lease]]) -> None:
        for repo, lease in leases:
            repo.release(lease)

    with held(
        acquire_all,
        renew=renew_all,
        release=release_all,
        ttl=ttl,
        if_busy=if_busy,
        say=say,
    ) as holding:
        yield holding
