"""`reads: ENV`: what an environment takes, read-only, from the environment it reads.

For the stages a run selects, every input directory that none of them writes is read from
the data root of the environment named by `reads:` (its committed outputs, and the source
data it was applied to) instead of the environment's own data root: the planner scans it
there and the input views link to the files there. The run cache of that environment is
consulted too, and a blob its CAS holds is copied into this environment's CAS when a
cached result needs it. Nothing of the other environment is ever written. See
docs/environments.md.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kitecli.errors import Damaged, ProjectError
from kitecli.scan.hashing import hash_file
from kitecli.scan.manifest import FileEntry
from kitecli.spec.build import is_url
from kitecli.spec.model import Environment, Pipeline
from kitecli.store.blobs import CAS, TMP_PREFIX, Blob

if TYPE_CHECKING:
    from kitecli.store.repo import Repo


def source(pipeline: Pipeline, env: Environment) -> Environment | None:
    """The environment `env` reads from, if any."""
    return pipeline.environments[env.reads] if env.reads else None


def borrowed(pipeline: Pipeline, env: Environment, stages: Iterable[str]) -> dict[str, Path]:
    """Input directories of `stages` read from another data root: folder → that data root.

    Empty without `reads:`. A folder is borrowed when none of `stages` writes it; one that
    nests with a folder they write is an error (it would be half here, half there).
    """
    other = source(pipeline, env)
    if other is None:
        return {}
    names = list(stages)
    written = {o.path for n in names for o in pipeline.stages[n].outputs}
    read = {i.path for n in names for i in pipeline.stages[n].inputs}
    away = sorted(read - written)
    for folder in away:
        clash = next((w for w in sorted(written) if _nested(folder, w)), None)
        if clash is not None:
            raise ProjectError(
                f"environment {env.name}: input {folder}/ would be read from environment "
                f"{other.name} while {clash}/ inside it is written here",
                hint="select the stage that writes the outer folder too (--stage), "
                "or lay the folders out side by side",
            )
    return dict.fromkeys(away, _local(other))


def _local(env: Environment) -> Path:
    if is_url(env.data):
        raise ProjectError(
            f"environment {env.name}: reading its data root {env.data} from another "
            "environment is not supported yet",
            hint="use `reads:` with an environment whose data root is a local folder",
        )
    return Path(env.data)


def _nested(a: str, b: str) -> bool:
    if "" in (a, b) or "." in (a, b):
        return True
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


class FallbackCAS:
    """This environment's CAS, which copies in a blob missing from it but held by the CAS of
    the environment it reads (read there, written here), before materialising it."""

    def __init__(self, own: CAS, other: CAS) -> None:
        self.own = own
        self.other = other

    def has(self, digest: str) -> bool:
        return self.own.has(digest) or self.other.has(digest)

    def local_path(self, digest: str) -> Path | None:
        return self.own.local_path(digest)

    def verify(self, digest: str) -> bool:
        """Whether the blob is good here, or good in the other store and so copied in. A
        corrupt blob of the other environment is left where it is: its store is not ours."""
        if self.own.verify(digest):
            return True
        if not self.other.has(digest):
            return False
        theirs = self.other.local_path(digest)
        if theirs is not None and hash_file(theirs)[0] != digest:
            return False
        try:
            self._copy_in(digest)
        except Damaged:  # a download that does not match its digest
            return False
        return True

    def ingest(
        self, path: Path, *, entry: FileEntry | None = None, move: bool = False
    ) -> FileEntry:
        return self.own.ingest(path, entry=entry, move=move)

    def materialize(self, digest: str, dest: Path | str) -> str:
        if not self.own.has(digest) and self.other.has(digest):
            self._copy_in(digest)
        return self.own.materialize(digest, dest)

    def blobs(self) -> Iterator[Blob]:
        return self.own.blobs()

    def remove(self, blob: Blob) -> None:
        self.own.remove(blob)

    def _copy_in(self, digest: str) -> None:
        blob = self.other.local_path(digest)
        if blob is not None:
            self.own.ingest(blob, entry=FileEntry(digest, blob.stat().st_size))
            return
        # an object store's blob comes through a temporary file: beside the blob it becomes
        # when this store is local (where gc finds it, should it be left), else in the
        # system's temporary folder
        mine = self.own.local_path(digest)
        if mine is not None:
            mine.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=TMP_PREFIX, dir=None if mine is None else mine.parent
        )
        os.close(handle)
        fetched = Path(name)
        try:
            self.other.materialize(digest, fetched)
            self.own.ingest(fetched, entry=FileEntry(digest, fetched.stat().st_size), move=True)
        finally:
            fetched.unlink(missing_ok=True)


def open_cas(pipeline: Pipeline, env: Environment) -> CAS:
    """The CAS of `env`; with `reads:` and a CAS of its own, one that falls back on the other's."""
    from kitecli.store import open_cas as open_one

    own = open_one(env.cache, endpoint_url=env.endpoint_url)
    other = source(pipeline, env)
    if other is None or other.cache == env.cache:
        return own
    return FallbackCAS(own, open_one(other.cache, endpoint_url=other.endpoint_url))


def run_cache_repo(pipeline: Pipeline, env: Environment) -> Repo | None:
    """The metadata repo whose run cache `env` also consults, when it is not its own."""
    other = source(pipeline, env)
    if other is None or other.metadata == env.metadata:
        return None
    from kitecli.store import open_repo

    return open_repo(other.metadata, endpoint_url=other.endpoint_url)
