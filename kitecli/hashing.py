"""blake3 digests, written `b3:<64 hex>`."""

from __future__ import annotations

PREFIX = "b3:"


def digest_bytes(data: bytes) -> str:
    """The digest of a byte string."""
    from blake3 import blake3

    return PREFIX + blake3(data).hexdigest()
