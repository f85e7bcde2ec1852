"""A data root on an object store (or local disk): manifests from listings, staging in and out.

`manifest()` lists a folder and takes each object's digest, in this order, from the stat
cache (URL, ETag or generation, size), from the blake3 digest kite stored with the object
(in the listing on GCS, one HEAD per object on S3), and only for an object nobody has hashed
yet, by downloading and hashing it. A nothing-changed listing downloads nothing.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kitecli.errors import ProjectError
from kitecli.scan.hashing import hash_file
from kitecli.scan.manifest import FileEntry, Manifest, from_files
from kitecli.store.backend import Backend, Stat, scheme_of
from kitecli.store.blobs import CAS
from kitecli.store.connect import open_backend
from kitecli.store.objcache import DigestCache, MemoryDigestCache, Row

POOL = 8


class DataRoot:
    """The data directories of one environment under `url` (`s3://…`, `gs://…` or a path)."""

    def __init__(
        self, url: str, *, endpoint_url: str | None = None, cache: DigestCache | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.backend: Backend = open_backend(url, endpoint_url=endpoint_url)
        self.cache: DigestCache = cache if cache is not None else MemoryDigestCache()
        self.remote = scheme_of(url) != "file"

    def url_of(self, rel: str) -> str:
        """The URL (or path) of a data-root-relative path."""
        return f"{self.url}/{rel.strip('/')}" if rel.strip("/") else self.url

    def manifest(self, folder: str = "") -> Manifest:
        """The Merkle tree of `folder` (relative to the root; "" for all of it)."""
        folder = folder.strip("/")
        skip = len(folder) + 1 if folder else 0
        files: dict[str, FileEntry] = {}
        missing: list[Stat] = []
        learned: list[Row] = []
        for stat in self.backend.list(folder):
            url = self.url_of(stat.key)
            digest = self.cache.get(url, stat.token, stat.size) if self.remote else None
            if digest is None and stat.digest is not None:
                digest = stat.digest
                learned.append((url, stat.token, stat.size, digest))
            if digest is None:
                missing.append(stat)
            else:
                files[stat.key[skip:]] = FileEntry(digest, stat.size)
        with ThreadPoolExecutor(max_workers=POOL) as pool:
            for stat, entry in zip(missing, pool.map(self._digest_of, missing), strict=True):
                if entry is None:
                    continue  # deleted since it was listed
                files[stat.key[skip:]] = entry
                learned.append((self.url_of(stat.key), stat.token, stat.size, entry.digest))
        if self.remote and learned:
            self.cache.put_many(learned)
        return from_files(files)

    def _digest_of(self, stat: Stat) -> FileEntry | None:
        """An object's entry from its stored digest (HEAD), else by downloading and hashing;
        None if it was deleted meanwhile."""
        try:
            if not self.remote:
                return FileEntry(*hash_file(os.path.join(self.url, stat.key)))
            head = self.backend.head(stat.key)
            if head is not None and head.digest is not None and head.token == stat.token:
                return FileEntry(head.digest, stat.size)
            with tempfile.TemporaryDirectory(prefix="kite-hash-") as tmp:
                local = os.path.join(tmp, "object")
                self.backend.download(stat.key, local)
                return FileEntry(*hash_file(local))
        except FileNotFoundError:
            return None

    def download(self, rel: str, dest: Path) -> None:
        """Stage one file into a local view (written whole or not at all)."""
        try:
            self.backend.download(rel, str(dest))
        except FileNotFoundError as exc:
            raise ProjectError(
                f"{self.url_of(rel)} is missing",
                hint="the data root changed since the plan was made; run `kite plan` again",
            ) from exc

    def upload(self, source: Path, rel: str, *, entry: FileEntry | None = None) -> FileEntry:
        """Put a local file at `rel`, carrying its digest; the entry is cached."""
        if entry is None:
            digest, size = hash_file(source)
            entry = FileEntry(digest, size)
        self.backend.upload(rel, str(source), digest=entry.digest)
        self.remember(rel)
        return entry

    def remember(self, rel: str) -> None:
        """Record the current version of `rel` in the stat cache (after kite wrote it)."""
        head = self.backend.head(rel)
        if head is not None and head.digest is not None:
            self.cache.put_many([(self.url_of(rel), head.token, head.size, head.digest)])

    def place(self, cas: CAS, digest: str, rel: str) -> str:
        """Materialise a blob of `cas` at `rel` (server-side copy when both are in one
        store) and remember its version, so the next listing need not look at it."""
        how: str = cas.materialize(digest, self.url_of(rel))
        head = self.backend.head(rel)
        if head is not None:
            self.cache.put_many([(self.url_of(rel), head.token, head.size, digest)])
        return how

    def delete(self, rel: str) -> None:
        self.backend.delete(rel)
