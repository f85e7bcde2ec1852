"""Shared fixtures: run the real `kite` command line in a scratch folder; S3 and GCS servers;
the sites (local, S3, GCS) a project's data, metadata and cache live at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cloud import gcs_bucket, gcs_server, moto_server, s3_bucket

from tests.e2e import Site
from tests.helpers import Result, kite, write
from tests.k8s.controlplane.fixtures import real_cluster

__all__ = [
    "Result",
    "gcs_bucket",
    "gcs_server",
    "kite",
    "moto_server",
    "real_cluster",
    "s3_bucket",
    "write",
]


@pytest.fixture(autouse=True, scope="session")
def _no_project_above(tmp_path_factory: pytest.TempPathFactory) -> None:
    """kite looks for pipeline.yaml up to the tests' scratch root, never in a folder above
    it (a pipeline.yaml left in the system's temporary folder would change the tests)."""
    os.environ["KITE_CEILING_DIRECTORIES"] = str(tmp_path_factory.getbasetemp())


@pytest.fixture
def run_kite(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`run_kite("validate")` runs kite in a fresh folder (`tmp_path`)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        return kite(*args, cwd=cwd or tmp_path, env=env)

    return run


@pytest.fixture(params=["local", "s3", "gcs"])
def site(request: pytest.FixtureRequest) -> Site:
    """Each place a project can keep everything: local folders, one S3 bucket, one GCS bucket."""
    if request.param == "local":
        return Site("local")
    return Site.in_bucket(str(request.getfixturevalue(f"{request.param}_bucket")))


@pytest.fixture(params=["s3", "gcs"])
def bucket_site(request: pytest.FixtureRequest) -> Site:
    """Data, metadata and cache in an S3 bucket, then in a GCS bucket."""
    return Site.in_bucket(str(request.getfixturevalue(f"{request.param}_bucket")))
