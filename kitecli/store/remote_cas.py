"""The content-addressed store on S3 or GCS: blobs at `<url>/ab/cdef…`, each carrying its
blake3 digest as object metadata (`b3`), materialised into data roots by server-side copy.

It follows the protocol of every store (`kitecli.store.blobs.CAS`); `local_path` is None,
as a blob here has no path on this machine, and `url_of` says where it is instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kitecli.errors import Damaged, ProjectError
from kitecli.scan.hashing import PREFIX, hash_file
from kitecli.scan.manifest import FileEntry
from kitecli.store.backend import Backend, scheme_of
from kitecli.store.blobs import Blob, digest_of_key
from kitecli.store.connect import open_backend, open_location
from kitecli.store.repo import DIGEST


class RemoteCAS:
    """A content-addressed store under `s3://bucket/prefix` or `gs://bucket/prefix`."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.endpoint_url = endpoint_url
        self.backend: Backend = open_backend(url, endpoint_url=endpoint_url)

    @staticmethod
    def key_of(digest: str) -> str:
        if not DIGEST.fullmatch(digest):
            raise ProjectError(f"not a digest: {digest!r}", hint="digests are b3:<64 hex>")
        hexa = digest.removeprefix(PREFIX)
        return f"{hexa[:2]}/{hexa[2:]}"

    def url_of(self, digest: str) -> str:
        """Where the blob with `digest` lives, whether or not it is there."""
        return f"{self.url}/{self.key_of(digest)}"

    def local_path(self, digest: str) -> None:
        return None

    def has(self, digest: str) -> bool:
        return self.backend.exists(self.key_of(digest))

    def verify(self, digest: str) -> bool:
        """Whether the blob is there. Its bytes are not read here: nothing links an object
        into a data folder, and `fetch` checks every download against its digest."""
        return self.has(digest)

    def blobs(self) -> Iterator[Blob]:
        """Every blob in the store, with its object's last-modified time, in any order."""
        for found in self.backend.list(""):
            digest = digest_of_key(found.key)
            if digest is not None:
                yield Blob(found.key, digest, found.size, found.modified)

    def remove(self, blob: Blob) -> None:
        """Delete a listed blob (gone already is fine)."""
        self.backend.delete(blob.key)

    def ingest(
        self, path: Path, *, entry: FileEntry | None = None, move: bool = False
    ) -> FileEntry:
        """Upload a local file (no upload if the blob is there); return its entry.

        `move` says nobody needs the local file after and nothing writes to it any more (a
        finished task's output): it is not hashed again after the upload, and it is removed
        once stored, as the local CAS would have taken it.
        """
        if entry is None:
            entry = FileEntry(*hash_file(path))
        key = self.key_of(entry.digest)
        if self.backend.exists(key):
            if move:
                path.unlink()
            return entry
        self.backend.upload(key, str(path), digest=entry.digest)
        if not move and FileEntry(*hash_file(path)) != entry:
            self.backend.delete(key)
            raise ProjectError(
                f"{path} changed while it was being stored (expected {entry.digest})",
                hint="wait until whatever writes to it is done, then run again",
            )
        if move:
            path.unlink()
        return entry

    def ingest_object(self, url: str, entry: FileEntry) -> FileEntry:
        """Store an object already in a bucket (a task's output) by server-side copy.

        `entry` must be the object's digest and size, from a data-root manifest.
        """
        source, key = open_location(url, endpoint_url=self.endpoint_url)
        dest = self.key_of(entry.digest)
        if not self.backend.exists(dest):
            self.backend.copy(source, key, dest, digest=entry.digest)
        return entry

    def materialize(self, digest: str, dest: str | Path) -> str:
        """Put blob `digest` at `dest`: an `s3://`/`gs://` URL by server-side copy (across
        different stores through a temporary file), or a local path by download. Says how:
        `server-copy`, `copy` or `download`."""
        key = self.key_of(digest)
        if not self.backend.exists(key):
            raise Damaged(
                f"{digest} is not in the content store at {self.url}",
                hint="run the stage that makes it again, or set `cache:` to the store that has it",
            )
        if isinstance(dest, Path) or scheme_of(dest) == "file":
            self.fetch(digest, Path(dest))
            return "download"
        target, dest_key = open_location(dest, endpoint_url=self.endpoint_url)
        target.copy(self.backend, key, dest_key, digest=None)
        same = type(target) is type(self.backend) and getattr(
            target, "endpoint_url", None
        ) == getattr(self.backend, "endpoint_url", None)
        return "server-copy" if same else "copy"

    def fetch(self, digest: str, dest: Path) -> None:
        """Download blob `digest` to a local file and check it against its digest."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.backend.download(self.key_of(digest), str(dest))
        except FileNotFoundError as exc:
            raise Damaged(
                f"{digest} is not in the content store at {self.url}",
                hint="run the stage that makes it again, or set `cache:` to the store that has it",
            ) from exc
        if hash_file(dest)[0] != digest:
            dest.unlink()
            raise Damaged(
                f"blob {digest} in {self.url} is corrupt (its bytes do not match its digest)",
                hint="delete that blob from the store and run the stage that made it again",
            )
