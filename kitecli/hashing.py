"""blake3 digests, written `b3:<64 hex>`."""

from __future__ import annotations

import os

PREFIX = "b3:"


def digest_bytes(data: bytes) -> str:
    """The digest of a byte string."""
    from blake3 import blake3

    return PREFIX + blake3(data).hexdigest()


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The digest and size of one file."""
    from blake3 import blake3

    hasher = blake3()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    return PREFIX + hasher.hexdigest(), size
