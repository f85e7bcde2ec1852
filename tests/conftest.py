"""Shared fixtures: run the real `kite` command line in a scratch folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Result, kite, write

__all__ = ["Result", "kite", "write"]


@pytest.fixture
def run_kite(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`run_kite("validate")` runs kite in a fresh folder (`tmp_path`)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        return kite(*args, cwd=cwd or tmp_path, env=env)

    return run
