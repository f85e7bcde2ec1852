"""Data roots behind one interface, on local disk or on S3/GCS: the manifest of the folders a
plan reads, a datum's input views, and placing and removing the files datums own.

On local disk a view links to the data and a file is materialised from the CAS by reflink
or copy (never a hard link: editing it must not change the blob). On an object store a view
is a local folder of downloaded files and a file is placed by a server-side copy from the
CAS (an upload from a local CAS). A command sees plain local directories either way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kitecli.errors import Damaged, KiteError, ProjectError
from kitecli.scan import manifest
from kitecli.scan.folders import graft, outermost, scan_data
from kitecli.scan.manifest import FileEntry, Manifest
from kitecli.scan.statcache import FILE_NAME as STATE_DB
from kitecli.spec.build import is_url
from kitecli.spec.model import Environment
from kitecli.store import links

if TYPE_CHECKING:
    from kitecli.scan.statcache import StatCache
    from kitecli.store.blobs import CAS
    from kitecli.store.dataroot import DataRoot

READ_ONLY = 0o444
DOWNLOADS = 8  # files of one view downloaded at once


class Root(Protocol):
    """What planning, the input views and the runner need of a data root."""

    url: str

    def manifest(
        self, folders: Iterable[str], *, elsewhere: Mapping[str, Path] | None = None
    ) -> Manifest:
        """The Merkle tree of `folders` (relative to the root; missing ones are left out)."""
        ...

    def view(self, folder: str, dest: Path, files: Mapping[str, FileEntry] | None) -> None:
        """Make `dest` show `files` of `folder` (folder-relative paths), or all of it (None)."""
        ...

    def holds(self, rel: str) -> bool:
        """Whether a file is at `rel` now."""
        ...

    def place(self, rel: str, entry: FileEntry) -> None:
        """Put the CAS blob of `entry` at `rel`, replacing what is there."""
        ...

    def remove(self, rel: str) -> None:
        """Delete the file at `rel` (a missing file is not an error)."""
        ...

    def close(self) -> None: ...


def open_root(
    env: Environment,
    *,
    project: Path,
    cas: CAS | None = None,
    staging: Path | None = None,
    cached: bool = True,
) -> Root:
    """The data root of `env`. With `cached`, digests are remembered in the project's
    `.kite/state.db` (the stat cache on disk, (URL, ETag or generation, size) on object
    stores); without, every local file is hashed and object digests come from the store.
    `cas` is needed to place files; `staging` is where whole downloaded folders are kept."""
    state_db = project / ".kite" / STATE_DB
    if not is_url(env.data):
        return LocalRoot(Path(env.data), cas=cas, stat_cache=state_db if cached else None)
    from kitecli.store.dataroot import DataRoot
    from kitecli.store.objcache import DigestCache, MemoryDigestCache, SqliteDigestCache

    digests: DigestCache = SqliteDigestCache(state_db) if cached else MemoryDigestCache()
    data = DataRoot(env.data, endpoint_url=env.endpoint_url, cache=digests)
    return ObjectRoot(data, cas=cas, staging=staging)


def _no_cas(url: str) -> KiteError:
    return KiteError(f"no content store to place files in {url}", hint="this is a bug in kite")


def check_rel(rel: str) -> str:
    """A data-root-relative posix path, refused if it could point outside the root."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ProjectError(
            f"refusing to write {rel!r}: not a plain path inside the data root",
            hint="output files must stay inside their output folder",
        )
    return rel


class LocalRoot:
    """A data root in a local folder."""

    def __init__(
        self,
        path: Path,
        *,
        cas: CAS | None = None,
        stat_cache: Path | None = None,
    ) -> None:
        self.path = path
        self.url = str(path)
        self.cas = cas
        self.stat_cache = stat_cache  # the file, opened by the first manifest()
        self._stats: StatCache | None = None
        self._folders: set[Path] = set()  # folders known to exist, made once
        self._real: dict[str, Path] = {}  # input folders resolved (views link to their targets)

    def manifest(
        self, folders: Iterable[str], *, elsewhere: Mapping[str, Path] | None = None
    ) -> Manifest:
        if self.stat_cache is not None and self._stats is None:
            from kitecli.scan.statcache import StatCache

            self._stats = StatCache(self.stat_cache)
        cache = self._stats

        def scan(where: Path) -> Manifest:
            return manifest.scan(where, cache=cache)

        return scan_data(self.path, folders, scan=scan, elsewhere=elsewhere)

    def view(self, folder: str, dest: Path, files: Mapping[str, FileEntry] | None) -> None:
        source = self.path / folder
        real = self._real.get(folder)
        if real is None and source.exists():  # an input folder resolved once a run, not per datum
            real = self._real[folder] = source.resolve()
        links.link_view(source, dest, files, real=real)

    def holds(self, rel: str) -> bool:
        return (self.path / rel).exists()

    def place(self, rel: str, entry: FileEntry) -> None:
        if self.cas is None:
            raise _no_cas(self.url)
        target = self.path / check_rel(rel)
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(target.parent)
        how = self.cas.materialize(entry.digest, target)  # replaces what is there
        if how == "download":
            os.chmod(target, READ_ONLY)  # from a remote CAS: read-only like a local link

    def remove(self, rel: str) -> None:
        target = self.path / check_rel(rel)
        if target.exists() or target.is_symlink():
            target.unlink()
        _prune(target.parent, self.path)
        self._folders.clear()  # pruning may have removed some

    def close(self) -> None:
        if self._stats is not None:
            self._stats.close()
            self._stats = None


class ObjectRoot:
    """A data root under `s3://bucket/prefix` or `gs://bucket/prefix`."""

    def __init__(
        self,
        data: DataRoot,
        *,
        cas: CAS | None = None,
        staging: Path | None = None,
    ) -> None:
        self.data = data
        self.url = data.url
        self.cas = cas
        self.staging = staging
        self._busy: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def manifest(
        self, folders: Iterable[str], *, elsewhere: Mapping[str, Path] | None = None
    ) -> Manifest:
        if elsewhere:
            raise KiteError(
                f"`reads:` with a data root on an object store ({self.url}) is not supported yet",
                hint="give the environment that reads another one a local data root",
            )
        found: dict[str, Manifest] = {}
        for folder in outermost(folders):
            part = self.data.manifest(folder)
            if part.files:  # no objects: the folder does not exist
                found[folder] = part
        return graft(found)

    def view(self, folder: str, dest: Path, files: Mapping[str, FileEntry] | None) -> None:
        if files is not None:
            dest.mkdir(parents=True, exist_ok=True)
            self._download({f"{folder}/{rel}": dest / rel for rel in files})
        elif self.staging is None:
            dest.mkdir(parents=True, exist_ok=True)
            listed = self.data.manifest(folder).files
            self._download({f"{folder}/{rel}": dest / rel for rel in listed})
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(self._staged(folder), target_is_directory=True)

    def _staged(self, folder: str) -> Path:
        """A local read-only copy of a whole folder, downloaded once per run and content
        (a whole-directory input is seen by every datum of its stage)."""
        assert self.staging is not None
        listed = self.data.manifest(folder)
        staged = self.staging / listed.digest.removeprefix("b3:")
        with self._guard:
            busy = self._busy.setdefault(listed.digest, threading.Lock())
        with busy:
            if not staged.is_dir():
                part = staged.with_name(staged.name + ".part")
                if part.exists():
                    links.clear(part)
                part.mkdir(parents=True)
                self._download({f"{folder}/{rel}": part / rel for rel in listed.files})
                part.rename(staged)
        return staged

    def _download(self, wanted: Mapping[str, Path]) -> None:
        def one(item: tuple[str, Path]) -> None:
            rel, dest = item
            self.data.download(rel, dest)
            os.chmod(dest, READ_ONLY)

        if len(wanted) <= 1:
            for item in wanted.items():
                one(item)
            return
        from concurrent.futures import ThreadPoolExecutor  # only when downloading

        with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
            list(pool.map(one, wanted.items()))

    def holds(self, rel: str) -> bool:
        return self.data.backend.exists(rel)

    def place(self, rel: str, entry: FileEntry) -> None:
        check_rel(rel)
        if self.cas is None:
            raise _no_cas(self.url)
        blob = self.cas.local_path(entry.digest)
        if blob is None:  # a CAS on an object store: server-side copy
            self.data.place(self.cas, entry.digest, rel)
            return
        if not blob.exists():
            raise Damaged(
                f"{entry.digest} is not in the content store at {blob.parents[1]}",
                hint="run the stage that makes it again, or set `cache:` to the store that has it",
            )
        self.data.upload(blob, rel, entry=entry)

    def remove(self, rel: str) -> None:
        self.data.delete(check_rel(rel))

    def close(self) -> None:
        close = getattr(self.data.cache, "close", None)
        if close is not None:
            close()


def _prune(folder: Path, root: Path) -> None:
    """Remove empty folders from `folder` up to (not including) `root`."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
