"""One small interface over local disk, S3 and GCS: versioned reads, create-only and CAS writes.

Keys are relative posix paths under the backend's root URL. A *token* names one version of
one key: an ETag on S3, a generation on GCS, inode+mtime+size on local disk. Conditional
writes return the new token, or None when the condition did not hold (the caller lost).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

from kitecli.errors import ProjectError


@dataclass(frozen=True)
class Versioned:
    """The bytes of one key as read, with the token of exactly that version."""

    data: bytes
    token: str


@dataclass(frozen=True)
class Stat:
    """One listed object: its key, version token, size, and the blake3 digest kite stored
    with it as metadata (None when the listing does not carry metadata or it has none);
    `modified`: when it was last written, in epoch seconds (None when not known)."""

    key: str
    token: str
    size: int
    digest: str | None = None
    modified: float | None = None


class Backend(Protocol):
    """What the metadata repo, the remote CAS and data roots need from a store."""

    url: str

    def read(self, key: str) -> Versioned | None:
        """The key's bytes and token, or None when it does not exist."""
        ...

    def create(
        self, key: str, data: bytes, *, digest: str | None = None, durable: bool = True
    ) -> str | None:
        """Write only if the key does not exist; the new token, or None if it existed.

        `durable=False` lets a local disk skip flushing to storage (a lost write then costs
        only what it saved, like a run-cache entry); object stores are always durable.
        """
        ...

    def swap(self, key: str, data: bytes, *, token: str) -> str | None:
        """Replace the version `token`; the new token, or None if the key moved on."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[Stat]:
        """Every object under `prefix` (a folder, "" for all), recursively, in any order."""
        ...

    def head(self, key: str) -> Stat | None:
        """One object's token, size and stored digest, without its bytes."""
        ...

    def upload(self, key: str, source: str, *, digest: str | None = None) -> None:
        """Write a local file to `key` (overwriting), carrying `digest` as metadata."""
        ...

    def download(self, key: str, dest: str) -> None:
        """Copy `key` into the local file `dest` (written whole or not at all)."""
        ...

    def copy(self, source: Backend, key: str, dest_key: str, *, digest: str | None) -> None:
        """Copy `source`'s `key` to `dest_key` here, server-side when both share a store;
        with `digest`, the copy carries it as metadata (None: it keeps the source's)."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        ...


def seconds(value: Any) -> float | None:
    """Epoch seconds of a listing's timestamp (a datetime or an ISO 8601 string), else None."""
    import datetime as dt

    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    return None


def check_key(key: str) -> str:
    """A relative posix path with no `..`, `.` or empty parts; refused otherwise."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ProjectError(
            f"invalid store path {key!r}",
            hint="use a relative path made of plain names separated by '/'",
        )
    return str(PurePosixPath(key))


def join(prefix: str, key: str) -> str:
    """`prefix/key` without doubled or trailing slashes."""
    prefix = prefix.strip("/")
    return f"{prefix}/{key}" if prefix else key


def scheme_of(url: str) -> str:
    """`s3`, `gs` or `file` (a plain path)."""
    head, sep, _ = url.partition("://")
    if not sep:
        return "file"
    if head in ("s3", "s3a"):
        return "s3"
    if head in ("gs", "gcs"):
        return "gs"
    if head == "file":
        return "file"
    raise ProjectError(
        f"unsupported store URL {url!r}",
        hint="use a local path, s3://bucket/prefix or gs://bucket/prefix",
    )


def split_bucket(url: str) -> tuple[str, str]:
    """(`bucket`, `prefix`) of `s3://bucket/prefix`."""
    rest = url.partition("://")[2]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ProjectError(f"no bucket in {url!r}", hint="write it as s3://bucket/prefix")
    return bucket, prefix.strip("/")


def download_whole(
    fs: Any,
    remote: str,
    dest: str,
    error: Callable[[BaseException], Exception],
    failures: tuple[type[BaseException], ...],
) -> None:
    """Download `remote` to `dest` through a temporary file: `dest` appears whole or not at all.

    A missing object raises FileNotFoundError; one of the store's `failures`, `error(exc)`.
    """
    folder = os.path.dirname(dest) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".kite-tmp-{secrets.token_hex(6)}")
    try:
        fs.get_file(remote, tmp)
        os.replace(tmp, dest)
    except FileNotFoundError:
        raise
    except failures as exc:
        raise error(exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
