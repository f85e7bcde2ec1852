"""Where kite keeps things: the metadata repo, the content-addressed store, data roots.

The factories below open each from its URL (a local path, `s3://bucket/prefix` or
`gs://bucket/prefix`); they import the implementation they need only when called.

May import: errors, scan, spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kitecli.store.connect import open_backend, open_location

__all__ = ["open_backend", "open_cas", "open_location", "open_repo"]

if TYPE_CHECKING:
    from kitecli.store.blobs import CAS
    from kitecli.store.repo import Repo


def open_repo(url: str, *, endpoint_url: str | None = None) -> Repo:
    """The metadata repo at a local path, `s3://bucket/prefix` or `gs://bucket/prefix`."""
    from kitecli.store.repo import Repo

    return Repo(open_backend(url, endpoint_url=endpoint_url))


def open_cas(location: str, *, endpoint_url: str | None = None) -> CAS:
    """The content-addressed store of an environment's `cache:` setting: a local folder,
    or `s3://bucket/prefix` / `gs://bucket/prefix` (shared by every environment)."""
    location = location.removeprefix("file://")
    if "://" in location:
        from kitecli.store.remote_cas import RemoteCAS

        return RemoteCAS(location, endpoint_url=endpoint_url)
    from kitecli.store.cas import LocalCAS

    return LocalCAS(Path(location))
