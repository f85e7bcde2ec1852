"""Open a backend from its URL: a local path, `s3://bucket/prefix` or `gs://bucket/prefix`.

Each object-store backend (and the library it needs) is imported only when a URL asks
for it.
"""

from __future__ import annotations

import os

from kitecli.store.backend import Backend, scheme_of, split_bucket


def open_backend(url: str, *, endpoint_url: str | None = None) -> Backend:
    """The backend for a local path, `s3://bucket/prefix` or `gs://bucket/prefix`."""
    scheme = scheme_of(url)
    if scheme == "s3":
        from kitecli.store.s3 import S3Backend

        return S3Backend(url, endpoint_url=endpoint_url)
    if scheme == "gs":
        from kitecli.store.gcs import GCSBackend

        return GCSBackend(url, endpoint_url=endpoint_url)
    from kitecli.store.localfs import LocalBackend

    path = url.removeprefix("file://")
    return LocalBackend(os.path.abspath(os.path.expanduser(path)))


def open_location(url: str, *, endpoint_url: str | None = None) -> tuple[Backend, str]:
    """The backend of the bucket (or file system root) holding `url`, and `url`'s key in it."""
    scheme = scheme_of(url)
    if scheme == "file":
        path = os.path.abspath(os.path.expanduser(url.removeprefix("file://")))
        return open_backend("/"), path.lstrip("/")
    bucket, key = split_bucket(url)
    return open_backend(f"{scheme}://{bucket}", endpoint_url=endpoint_url), key
