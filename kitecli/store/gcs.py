"""The store backend on Google Cloud Storage: google-cloud-storage for versioned reads and
conditional writes, gcsfs for listings and transfers.

Create-only writes carry `ifGenerationMatch=0`, swaps `ifGenerationMatch=<generation>`; GCS
answers 412 to the loser. Both are single-request uploads (the metadata objects are small).
Credentials are Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
`gcloud auth application-default login`, workload identity). `STORAGE_EMULATOR_HOST` or an
`endpoint_url` select another endpoint; a plain-http endpoint is an emulator and gets
anonymous credentials.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

# kite does not use zonal/HNS buckets; this experimental gcsfs probe hangs on emulators.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from kitecli.errors import StoreError
from kitecli.store.backend import (
    Stat,
    Versioned,
    check_key,
    download_whole,
    join,
    seconds,
    split_bucket,
)

if TYPE_CHECKING:
    from kitecli.store.backend import Backend

DIGEST_META = "b3"
RETRY_SECONDS = 20.0  # give up on an unreachable store after this long (the default is 120)


def _retry() -> Any:
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_timeout(RETRY_SECONDS)


def gcs_endpoint(endpoint_url: str | None) -> str | None:
    """The endpoint to use: the environment's own, else `STORAGE_EMULATOR_HOST`."""
    endpoint = endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST")
    if endpoint and "://" not in endpoint:
        endpoint = f"http://{endpoint}"
    return endpoint.rstrip("/") if endpoint else None


@functools.lru_cache(maxsize=8)
def _client(project: str | None, endpoint: str | None, anonymous: bool, pid: int) -> Any:
    """One google-cloud-storage client per process and endpoint."""
    from google.cloud import storage

    kwargs: dict[str, Any] = {"project": project}
    if anonymous:
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
    if endpoint:
        kwargs["client_options"] = {"api_endpoint": endpoint}
    return storage.Client(**kwargs)


@functools.cache
def _failures() -> tuple[type[BaseException], ...]:
    """What GCS, or the way to it, raises: refusals, credentials and connections, from the
    client library and from gcsfs; anything else is a bug in kite, not an unreachable store."""
    import asyncio

    import aiohttp
    import requests
    from gcsfs.retry import HttpError
    from google.api_core import exceptions
    from google.auth import exceptions as auth

    return (
        OSError,
        asyncio.TimeoutError,
        aiohttp.ClientError,
        requests.RequestException,
        HttpError,
        exceptions.GoogleAPIError,
        auth.GoogleAuthError,
    )


class GCSBackend:
    """`gs://bucket/prefix`."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_bucket(url)
        self.endpoint_url = gcs_endpoint(endpoint_url)
        self.anonymous = bool(self.endpoint_url and self.endpoint_url.startswith("http://"))
        self.project = os.environ.get("GOOGLE_CLOUD_PROJECT") or (
            "kite" if self.anonymous else None
        )
        self._bucket: Any = None
        self._fs: Any = None
        self._bucket_ok = False

    @property
    def gcs(self) -> Any:
        """The google-cloud-storage bucket handle."""
        if self._bucket is None:
            client = _client(self.project, self.endpoint_url, self.anonymous, os.getpid())
            self._bucket = client.bucket(self.bucket)
        return self._bucket

    @property
    def fs(self) -> Any:
        """The gcsfs file system."""
        if self._fs is None:
            import gcsfs

            self._fs = gcsfs.GCSFileSystem(
                project=self.project,
                token="anon" if self.anonymous else None,
                endpoint_url=self.endpoint_url,
                use_listings_cache=False,
            )
        return self._fs

    def _key(self, key: str) -> str:
        return join(self.prefix, check_key(key))

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{self._key(key)}"

    def read(self, key: str) -> Versioned | None:
        from google.api_core import exceptions

        blob = self.gcs.blob(self._key(key))
        try:
            data = blob.download_as_bytes(retry=_retry())
        except exceptions.NotFound:
            self._check_bucket()
            return None
        except _failures() as exc:
            raise self._error(exc) from exc
        return Versioned(data, str(blob.generation))

    def _put(self, key: str, data: bytes, generation: int, digest: str | None) -> str | None:
        from google.api_core import exceptions

        blob = self.gcs.blob(self._key(key))
        if digest:
            blob.metadata = {DIGEST_META: digest}
        try:
            blob.upload_from_string(data, if_generation_match=generation, retry=_retry())
        except exceptions.PreconditionFailed:
            return None
        except _failures() as exc:
            raise self._error(exc) from exc
        return str(blob.generation)

    def create(
        self, key: str, data: bytes, *, digest: str | None = None, durable: bool = True
    ) -> str | None:
        return self._put(key, data, 0, digest)

    def swap(self, key: str, data: bytes, *, token: str) -> str | None:
        return self._put(key, data, int(token), None)

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def head(self, key: str) -> Stat | None:
        try:
            blob = self.gcs.get_blob(self._key(key), retry=_retry())
        except _failures() as exc:
            raise self._error(exc) from exc
        if blob is None:
            self._check_bucket()
            return None
        digest = (blob.metadata or {}).get(DIGEST_META)
        return Stat(key, str(blob.generation), int(blob.size), digest)

    def list(self, prefix: str) -> Iterator[Stat]:
        top = join(self.prefix, prefix.strip("/"))
        skip = len(self.prefix) + 1 if self.prefix else 0
        try:
            found = self.fs.find(f"{self.bucket}/{top}", detail=True)
        except FileNotFoundError:
            self._check_bucket()
            return
        except _failures() as exc:
            raise self._error(exc) from exc
        if not found:
            self._check_bucket()
        for name, info in found.items():
            key = name.partition("/")[2][skip:]
            if info.get("type") == "file" and key and not key.endswith("/"):
                digest = (info.get("metadata") or {}).get(DIGEST_META)
                modified = seconds(info.get("updated") or info.get("mtime"))
                yield Stat(key, str(info["generation"]), int(info["size"]), digest, modified)

    def upload(self, key: str, source: str, *, digest: str | None = None) -> None:
        extra = {"metadata": {DIGEST_META: digest}} if digest else {}
        try:
            self.fs.put_file(source, self._path(key), **extra)
        except _failures() as exc:
            raise self._error(exc) from exc

    def download(self, key: str, dest: str) -> None:
        download_whole(self.fs, self._path(key), dest, self._error, _failures())

    def copy(self, source: Backend, key: str, dest_key: str, *, digest: str | None) -> None:
        if isinstance(source, GCSBackend) and source.endpoint_url == self.endpoint_url:
            try:
                self.fs.copy(source._path(key), self._path(dest_key))
                if digest:
                    self.fs.setxattrs(self._path(dest_key), **{DIGEST_META: digest})
            except _failures() as exc:
                raise self._error(exc) from exc
            return
        from kitecli.store.transfer import copy_through_disk

        copy_through_disk(source, key, self, dest_key, digest=digest)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def _check_bucket(self) -> None:
        """Refuse a missing bucket (once per backend) rather than read it as empty."""
        if self._bucket_ok:
            return
        try:
            found = self.gcs.exists(retry=_retry())
        except _failures() as exc:
            raise self._error(exc) from exc
        if not found:
            raise StoreError(
                f"the bucket of {self.url} does not exist",
                hint="create it, or fix the URL in pipeline.yaml",
            )
        self._bucket_ok = True

    def _error(self, exc: BaseException) -> StoreError:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return StoreError(
            f"GCS refused or could not be reached for {self.url}{where}: {exc}",
            hint="check the bucket exists, your application default credentials "
            "(gcloud auth application-default login) and the environment's endpoint_url",
        )
