"""Damaging a healthy project one way, as a case folder of tests/damaged/ says.

A case is a folder holding `damage.sh`, run with sh in the project's folder (the three-stage
project of tests/e2e.py, applied once with a checkpoint after every datum, so its history
has several commits); `$KITE` runs the kite under test and `$CALLS_LOG` is the project's
log of steps. A case with an `fsck` file is also a fault `kite fsck --repair` must put
right (tests/test_faults.py): the file holds what `kite fsck` must say, `ok` when there is
no damage to report, or `any` when what is left depends on when a process was killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e import make_project
from tests.helpers import kite

FOLDER = Path(__file__).parent / "damaged"
CASES = sorted(p for p in FOLDER.iterdir() if p.is_dir())


def healthy(root: Path, *, days: tuple[str, ...] = ("2024-01-01", "2024-01-02")) -> dict[str, str]:
    """The project, applied once; the environment its commands need."""
    log = make_project(root, days=days)
    env = {"CALLS_LOG": str(log)}
    applied = kite("apply", cwd=root, env={**env, "KITE_CHECKPOINT_SECONDS": "0"})
    assert applied.code == 0, applied.stderr
    return env


def damage(case: Path, root: Path, env: dict[str, str]) -> None:
    path = os.pathsep.join(p for p in sys.path if p)
    environ = {**os.environ, **env, "KITE": f"{sys.executable} -m kitecli", "PYTHONPATH": path}
    subprocess.run(["sh", str(case / "damage.sh")], cwd=root, check=True, timeout=60, env=environ)
