"""Helpers for tests: run the real `kite` command line, write project files."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


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


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def start_kite(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `kite ARGS` in the background (stdout dropped, stderr kept), to signal it."""
    return subprocess.Popen(
        [sys.executable, "-m", "kitecli", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
