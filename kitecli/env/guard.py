"""Write isolation: every write kite makes for an environment is checked first.

An environment may write under its own roots only: its data root, its CAS (`cache:`), its
metadata repo, the project's `.kite/` folder (scratch folders, stat cache) and the project's
`kite.lock` — and never inside another environment's data root, even when that lies inside
one of its own roots. Paths are checked after resolving symbolic links, so a link planted
in a test data root cannot lead a write into production. A refused write raises
WriteRefused naming the path and the environment; nothing has been written by then.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kitecli.errors import WriteRefused
from kitecli.scan.manifest import FileEntry
from kitecli.spec.build import is_url
from kitecli.spec.model import Environment, Pipeline
from kitecli.store.blobs import CAS, Blob
from kitecli.store.repo import Lease, Ref, Repo

LOCK_FILE = "kite.lock"


@dataclass(frozen=True)
class Guard:
    """Where one environment may write: (what, root) pairs, and other data roots to avoid."""

    env: str
    roots: tuple[tuple[str, str], ...]  # (what it is, resolved path or URL)
    others: tuple[tuple[str, str], ...]  # (environment, resolved data root or URL)

    def check(self, path: Path | str, *, doing: str, follow: bool = False) -> str:
        """The resolved `path` if the environment may `doing` it; WriteRefused otherwise.

        The last component is resolved too only with `follow` (a folder written into);
        a file is replaced or unlinked, not written through, so its folder is what counts.
        """
        where = _resolve(str(path), follow=follow)
        for name, root in self.others:
            if _inside(where, root):
                raise WriteRefused(
                    f"refusing to {doing} {path}: it is inside the data root of environment "
                    f"{name!r} ({root}), and this is environment {self.env!r}",
                    hint=f"environment {self.env!r} writes only under its own roots; "
                    "look for a symbolic link or a path that leads there",
                )
        if not any(_inside(where, root) for _, root in self.roots):
            mine = ", ".join(f"{what} {root}" for what, root in self.roots)
            raise WriteRefused(
                f"refusing to {doing} {path}: it is outside the roots of environment "
                f"{self.env!r} ({mine})",
                hint="kite writes only under an environment's own data root, cache, "
                "metadata repo and the project's .kite/ folder",
            )
        return where

    def preflight(self, folders: Iterable[Path | str]) -> None:
        """Check every own root and each folder about to be written into, following links."""
        for what, root in self.roots:
            self.check(root, doing=f"use {what}", follow=True)
        for folder in folders:
            self.check(folder, doing="write into", follow=True)


def of(pipeline: Pipeline, env: Environment) -> Guard:
    """The guard of `env`: its roots, and the data roots of every other environment."""
    roots = [("data root", env.data), ("cache", env.cache), ("metadata repo", env.metadata)]
    roots += [
        ("kite's folder", str(pipeline.root / ".kite")),
        ("lock file", str(pipeline.root / LOCK_FILE)),
    ]
    others = [(o.name, o.data) for o in pipeline.environments.values() if o.name != env.name]
    return Guard(
        env=env.name,
        roots=tuple((what, _resolve(where, follow=True)) for what, where in roots),
        others=tuple((name, _resolve(where, follow=True)) for name, where in others),
    )


def output_folders(pipeline: Pipeline, env: Environment, stages: Iterable[str]) -> list[str]:
    """The output directories of `stages` in the environment's data root."""
    return [_join(env.data, out.path) for name in stages for out in pipeline.stages[name].outputs]


def confirm(env: Environment, *, yes: bool, saved_plan: bool = False) -> None:
    """A protected environment is applied only with --yes or from a saved plan."""
    if env.protected and not (yes or saved_plan):
        raise WriteRefused(
            f"environment {env.name!r} is protected: nothing was run",
            hint=f"review `kite plan --env {env.name}`, then apply it with --yes "
            "(or save it with --out and apply that file)",
        )


def admit(
    pipeline: Pipeline,
    env: Environment,
    stages: Iterable[str],
    *,
    yes: bool,
    scratch: Iterable[Path],
) -> Guard:
    """Before a run writes anything: a protected environment needs --yes, and every root,
    the run's scratch folders and the output folders of `stages` must be the environment's."""
    confirm(env, yes=yes)
    found = of(pipeline, env)
    found.preflight([*scratch, *output_folders(pipeline, env, stages)])
    return found


class GuardedCAS:
    """A CAS whose every blob and materialised file is checked by the guard first."""

    def __init__(self, inner: CAS, guard: Guard) -> None:
        self.inner = inner
        self.guard = guard

    def has(self, digest: str) -> bool:
        return self.inner.has(digest)

    def local_path(self, digest: str) -> Path | None:
        return self.inner.local_path(digest)

    def verify(self, digest: str) -> bool:
        self._check_blob(digest)  # a corrupt blob is moved aside: a write
        return self.inner.verify(digest)

    def ingest(
        self, path: Path, *, entry: FileEntry | None = None, move: bool = False
    ) -> FileEntry:
        if entry is None:
            from kitecli.scan.hashing import hash_file

            entry = FileEntry(*hash_file(path))
        self._check_blob(entry.digest)
        if move:  # the file leaves `path`: that is a write there too
            self.guard.check(path, doing="move a file out of")
        return self.inner.ingest(path, entry=entry, move=move)

    def materialize(self, digest: str, dest: Path | str) -> str:
        self.guard.check(dest, doing="materialise")
        self._check_blob(digest)
        return self.inner.materialize(digest, dest)

    def blobs(self) -> Iterator[Blob]:
        return self.inner.blobs()

    def remove(self, blob: Blob) -> None:
        if blob.digest is not None:
            self._check_blob(blob.digest)
        self.inner.remove(blob)

    def _check_blob(self, digest: str) -> None:
        """A blob in a local CAS is a write on this machine; one in an object store is not."""
        where = self.inner.local_path(digest)
        if where is not None:
            self.guard.check(where, doing="store a blob at")


class GuardedRepo(Repo):
    """A metadata repo that moves only this environment's ref and lease."""

    def __init__(self, inner: Repo, env: str) -> None:
        super().__init__(inner.backend)
        self.env = env

    def set_ref(self, env: str, commit: str, *, expected: Ref) -> Ref:
        self._own(env, "move the ref of")
        return super().set_ref(env, commit, expected=expected)

    def acquire(self, env: str, *, holder: str, ttl: float) -> Lease:
        self._own(env, "take the lease of")
        return super().acquire(env, holder=holder, ttl=ttl)

    def _own(self, env: str, doing: str) -> None:
        if env != self.env:
            raise WriteRefused(
                f"refusing to {doing} environment {env!r} from environment {self.env!r}",
                hint="an environment writes only its own ref and lease",
            )


@dataclass(frozen=True)
class Isolation:
    """What a run writes through and reads from: the guarded repo and CAS, the guard, and
    the input folders read from another environment's data root (`reads:`)."""

    repo: Repo
    cas: CAS
    writes: Guard
    read_from: Mapping[str, Path]


def _join(root: str, folder: str) -> str:
    if folder in ("", "."):
        return root
    return f"{root.rstrip('/')}/{folder}"


def _resolve(location: str, *, follow: bool) -> str:
    """An absolute path with links resolved (all of them, or all but the last), or a URL."""
    if is_url(location):
        return location.rstrip("/")
    if follow:
        return os.path.realpath(location)
    head, tail = os.path.split(os.path.abspath(location))
    return os.path.join(os.path.realpath(head), tail)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
