"""Copying between two stores that cannot copy server-side: through a local temporary file."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitecli.store.backend import Backend


def copy_through_disk(
    source: Backend, key: str, dest: Backend, dest_key: str, *, digest: str | None
) -> None:
    """Download `source`'s `key` and upload it to `dest_key`, carrying `digest`."""
    with tempfile.TemporaryDirectory(prefix="kite-copy-") as folder:
        local = os.path.join(folder, "blob")
        source.download(key, local)
        dest.upload(dest_key, local, digest=digest)
