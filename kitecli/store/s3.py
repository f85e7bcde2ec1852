"""The store backend on S3 and S3-compatible stores, through s3fs.

Create-only writes are `PutObject` with `If-None-Match: *` (s3fs's `mode="create"`), swaps
are `PutObject` with `If-Match: <ETag>`; S3 answers 412 (or 409 when two conditional writes
race) to the loser. Credentials come from botocore's usual chain (environment, profiles,
instance or pod identity); the endpoint is `endpoint_url`, else `AWS_ENDPOINT_URL_S3`, else
`AWS_ENDPOINT_URL`, else AWS.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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
LOST = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def s3_endpoint(endpoint_url: str | None) -> str | None:
    """The endpoint to use: the environment's own, else the standard variables."""
    return (
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )


@functools.cache
def _failures() -> tuple[type[BaseException], ...]:
    """What S3, or the way to it, raises: s3fs turns most refusals into OSError; botocore
    and aiohttp raise their own for credentials, endpoints and connections. Anything else
    is a bug in kite, not an unreachable store."""
    import asyncio

    import aiohttp
    from botocore import exceptions

    return (
        OSError,
        asyncio.TimeoutError,
        aiohttp.ClientError,
        exceptions.BotoCoreError,
        exceptions.ClientError,
    )


def _error_code(exc: BaseException) -> str | None:
    for err in (exc, exc.__cause__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            return str(code) if code is not None else None
    return None


class S3Backend:
    """`s3://bucket/prefix`."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_bucket(url)
        self.endpoint_url = s3_endpoint(endpoint_url)
        self._fs: Any = None
        self._bucket_ok = False

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import s3fs

            # fsspec shares one instance per process and endpoint: creating the client
            # costs about half a second of CPU
            self._fs = s3fs.S3FileSystem(endpoint_url=self.endpoint_url, use_listings_cache=False)
        return self._fs

    def _key(self, key: str) -> str:
        return join(self.prefix, check_key(key))

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{self._key(key)}"

    def _call(self, method: str, **kwargs: Any) -> Any:
        from fsspec.asyn import sync

        return sync(self.fs.loop, self.fs._call_s3, method, Bucket=self.bucket, **kwargs)

    def read(self, key: str) -> Versioned | None:
        from fsspec.asyn import sync

        async def get() -> Versioned:
            resp = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self._key(key))
            async with resp["Body"] as body:
                return Versioned(await body.read(), str(resp["ETag"]))

        try:
            result: Versioned = sync(self.fs.loop, get)
            return result
        except FileNotFoundError as exc:
            if _error_code(exc) == "NoSuchBucket":
                raise self._error(exc) from exc
            return None
        except _failures() as exc:
            raise self._error(exc) from exc

    def create(
        self, key: str, data: bytes, *, digest: str | None = None, durable: bool = True
    ) -> str | None:
        extra = {"Metadata": {DIGEST_META: digest}} if digest else {}
        try:
            out = self.fs.pipe_file(self._path(key), data, mode="create", **extra)
        except FileExistsError:
            return None
        except _failures() as exc:
            if _error_code(exc) in LOST:
                return None
            raise self._error(exc) from exc
        return str(out["ETag"])

    def swap(self, key: str, data: bytes, *, token: str) -> str | None:
        try:
            out = self.fs.pipe_file(self._path(key), data, IfMatch=token)
        except (FileNotFoundError, FileExistsError):
            return None
        except _failures() as exc:
            if _error_code(exc) in LOST:
                return None
            raise self._error(exc) from exc
        return str(out["ETag"])

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def head(self, key: str) -> Stat | None:
        try:
            resp = self._call("head_object", Key=self._key(key))
        except FileNotFoundError:
            self._check_bucket()
            return None
        except _failures() as exc:
            raise self._error(exc) from exc
        digest = resp.get("Metadata", {}).get(DIGEST_META)
        return Stat(key, str(resp["ETag"]), int(resp["ContentLength"]), digest)

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
                modified = seconds(info.get("LastModified"))
                yield Stat(key, str(info["ETag"]), int(info["size"]), modified=modified)

    def upload(self, key: str, source: str, *, digest: str | None = None) -> None:
        extra = {"Metadata": {DIGEST_META: digest}} if digest else {}
        try:
            self.fs.put_file(source, self._path(key), **extra)
        except _failures() as exc:
            raise self._error(exc) from exc

    def download(self, key: str, dest: str) -> None:
        download_whole(self.fs, self._path(key), dest, self._error, _failures())

    def copy(self, source: Backend, key: str, dest_key: str, *, digest: str | None) -> None:
        if isinstance(source, S3Backend) and source.endpoint_url == self.endpoint_url:
            extra: dict[str, Any] = (
                {"Metadata": {DIGEST_META: digest}, "MetadataDirective": "REPLACE"}
                if digest
                else {}
            )
            where = {"Bucket": source.bucket, "Key": source._key(key)}
            try:  # one CopyObject (s3fs's copy adds a HEAD and two listings)
                self._call("copy_object", Key=self._key(dest_key), CopySource=where, **extra)
            except _failures() as exc:
                if _error_code(exc) != "InvalidRequest":
                    raise self._error(exc) from exc
                self._copy_large(source._path(key), dest_key, extra)
            return
        from kitecli.store.transfer import copy_through_disk

        copy_through_disk(source, key, self, dest_key, digest=digest)

    def _copy_large(self, source: str, dest_key: str, extra: dict[str, Any]) -> None:
        """A copy of an object over 5 GB, which S3 makes only as a multipart copy."""
        try:
            self.fs.copy(source, self._path(dest_key), **extra)
        except _failures() as exc:
            raise self._error(exc) from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def _check_bucket(self) -> None:
        """Refuse a missing bucket (once per backend) rather than read it as empty."""
        if self._bucket_ok:
            return
        try:
            self._call("head_bucket")
        except _failures() as exc:
            raise self._error(exc) from exc
        self._bucket_ok = True

    def _error(self, exc: BaseException) -> StoreError:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return StoreError(
            f"S3 refused or could not be reached for {self.url}{where}: {exc}",
            hint="check the bucket exists, your AWS credentials (AWS_PROFILE, "
            "AWS_ACCESS_KEY_ID) and the environment's endpoint_url",
        )
