"""The metadata repo: create-only objects named by their digest, refs moved by compare-and-swap,
the apply lease, and create-only named entries — on local disk, S3 or GCS.

```
<repo>/objects/ab/cdef…   immutable, named by the blake3 of their bytes
<repo>/refs/<env>         `b3:<hex>` of the environment's newest commit
<repo>/leases/<env>       the apply lease (JSON)
<repo>/<named path>       create-only entries (e.g. runcache/<fp>, runs/<env>/<id>)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kitecli.errors import Damaged, ProjectError, StalePlanError
from kitecli.scan.hashing import PREFIX, digest_bytes
from kitecli.store import lease as leases
from kitecli.store.backend import Backend, check_key
from kitecli.store.lease import Lease

__all__ = ["Lease", "Ref", "Repo"]

DIGEST = re.compile(r"b3:[0-9a-f]{64}")
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
RESERVED = ("objects", "refs", "leases")


@dataclass(frozen=True)
class Ref:
    """An environment's ref as read: its commit digest and the store version it was read at
    (both None before the environment's first commit)."""

    commit: str | None
    token: str | None


EMPTY_REF = Ref(None, None)


def object_key(digest: str) -> str:
    """`objects/ab/cdef…` for `b3:abcdef…`."""
    if not DIGEST.fullmatch(digest):
        raise ProjectError(f"not a digest: {digest!r}", hint="digests are written b3:<64 hex>")
    hexa = digest.removeprefix(PREFIX)
    return f"objects/{hexa[:2]}/{hexa[2:]}"


def _env_key(kind: str, env: str) -> str:
    if not ENV_NAME.fullmatch(env):
        raise ProjectError(
            f"invalid environment name {env!r}",
            hint="use letters, digits, '_', '.' and '-', starting with a letter or digit",
        )
    return f"{kind}/{env}"


def _named_key(path: str) -> str:
    key = check_key(path)
    if key.split("/")[0] in RESERVED:
        raise ProjectError(
            f"{path!r} is inside the repo's reserved folders {', '.join(RESERVED)}",
            hint="name entries under a folder of their own, such as runs/ or runcache/",
        )
    return key


class Repo:
    """One metadata repo. Cheap to create; every method is one or two store requests."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url = backend.url

    # objects -------------------------------------------------------------------------
    def put(self, data: bytes) -> str:
        """Store `data` under its digest (create-only; storing it again is a no-op)."""
        digest = digest_bytes(data)
        self.backend.create(object_key(digest), data, digest=digest)
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes of an object, verified against its digest."""
        found = self.backend.read(object_key(digest))
        if found is None:
            raise ProjectError(
                f"object {digest} is missing from the metadata repo {self.url}",
                hint="run `kite fsck`; the repo may have been pruned or copied partially",
            )
        if digest_bytes(found.data) != digest:
            raise Damaged(
                f"object {digest} in {self.url} is corrupt (its bytes do not match its digest)",
                hint="run `kite fsck` to list damaged objects",
            )
        return found.data

    def has(self, digest: str) -> bool:
        return self.backend.exists(object_key(digest))

    # refs ----------------------------------------------------------------------------
    def ref(self, env: str) -> Ref:
        """The environment's newest commit, or Ref(None, None) before its first."""
        found = self.backend.read(_env_key("refs", env))
        if found is None:
            return EMPTY_REF
        commit = found.data.decode("ascii", "replace").strip()
        if not DIGEST.fullmatch(commit):
            raise ProjectError(
                f"the ref of environment {env!r} in {self.url} is unreadable: {commit[:80]!r}",
                hint="run `kite fsck`",
            )
        return Ref(commit, found.token)

    def set_ref(self, env: str, commit: str, *, expected: Ref) -> Ref:
        """Move the ref from `expected` to `commit`; StalePlanError if it moved meanwhile."""
        key = _env_key("refs", env)
        if not self.has(commit):
            raise ProjectError(
                f"cannot point {env!r} at {commit}: no such object in {self.url}",
                hint="write the commit object with put() before moving the ref",
            )
        data = f"{commit}\n".encode()
        if expected.token is None:
            token = self.backend.create(key, data)
        else:
            token = self.backend.swap(key, data, token=expected.token)
        if token is not None:
            return Ref(commit, token)
        current = self.ref(env)
        if current.commit == commit and current.token is not None:
            return current  # our write landed; a retried request reported it lost
        raise StalePlanError(
            f"environment {env!r} moved to {current.commit or 'nothing'} while this apply "
            f"worked from {expected.commit or 'an empty environment'}",
            hint="another apply committed first; run `kite plan` again and apply the new plan",
        )

    def restore_ref(self, env: str, commit: str) -> Ref:
        """Point the environment's ref at `commit` whatever it holds now (gone, unreadable or
        behind): `kite fsck --repair`, which has checked that `commit` is its newest."""
        found = self.backend.read(_env_key("refs", env))
        token = found.token if found is not None else None
        return self.set_ref(env, commit, expected=Ref(None, token))

    # the apply lease -----------------------------------------------------------------
    def acquire(self, env: str, *, holder: str, ttl: float) -> Lease:
        _env_key("leases", env)
        return leases.acquire(self.backend, env, holder=holder, ttl=ttl)

    def renew(self, lease: Lease, *, ttl: float) -> Lease:
        return leases.renew(self.backend, lease, ttl=ttl)

    def release(self, lease: Lease) -> None:
        leases.release(self.backend, lease)

    def lease_holder(self, env: str) -> Lease | None:
        """The live lease of `env`, or None."""
        _env_key("leases", env)
        return leases.holder(self.backend, env)

    # named entries -------------------------------------------------------------------
    def put_named(self, path: str, data: bytes, *, durable: bool = True) -> bool:
        """Create the entry `path`; False (and nothing written) if it already existed.

        With `durable=False` a crash may lose the entry, or leave it torn: only for
        entries whose readers treat what they cannot parse as absent.
        """
        return self.backend.create(_named_key(path), data, durable=durable) is not None

    def get_named(self, path: str) -> bytes | None:
        found = self.backend.read(_named_key(path))
        return None if found is None else found.data

    def list_named(self, prefix: str) -> list[str]:
        """Paths of the entries under the folder `prefix`, sorted."""
        folder = prefix.strip("/")
        if folder:
            _named_key(folder)
        return sorted(s.key for s in self.backend.list(folder))

    # whole-repo queries (fsck, gc) ---------------------------------------------------
    def envs(self) -> list[str]:
        """Every environment with a ref."""
        return sorted(s.key.partition("/")[2] for s in self.backend.list("refs"))

    def objects(self) -> list[str]:
        """The digest of every object in the repo."""
        keys = (s.key.split("/") for s in self.backend.list("objects"))
        return sorted(f"{PREFIX}{p[1]}{p[2]}" for p in keys if len(p) == 3)
