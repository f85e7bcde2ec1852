"""Store tests run against local disk, moto's S3 and fake-gcs-server (fixtures from
tests/conftest.py, which takes them from tests/cloud.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

BACKENDS = ("local", "s3", "gcs")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The root URL of an empty store on each backend, with a prefix inside the bucket."""
    if request.param == "local":
        return str(tmp_path / "meta")
    bucket = request.getfixturevalue(f"{request.param}_bucket")
    return f"{bucket}/kite/meta"
