"""Shared fixtures: run the real `kite` command line in a scratch folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def kite(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run `python -m kitecli ARGS` as a user would, in `cwd`."""
    environ = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "kitecli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_kite(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`run_kite("validate")` runs kite in a fresh folder (`tmp_path`)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        return kite(*args, cwd=cwd or tmp_path, env=env)

    return run


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


__all__: Sequence[str] = ("Result", "kite", "write")
