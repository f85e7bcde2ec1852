"""Every command against a corpus of damaged projects: no traceback, no internal error.

Each folder of tests/damaged/ holds a `damage.sh`, run with sh in a healthy project
(tests/damage.py) to damage it one way: a pipeline.yaml
that is a folder, a ref that names nothing, a cache whose blobs are garbage, and so on. To
add a case, add a folder. Whatever a command makes of the damage, it must end in words
(`error: …`, exit 1, 3, 4 or 5) or in success, never in a Python traceback.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.damage import CASES, damage, healthy
from tests.e2e import make_project
from tests.helpers import kite

COMMANDS = (
    ("validate",),
    ("graph",),
    ("plan",),
    ("apply",),
    ("log",),
    ("show", "last"),
    ("logs", "last"),
    ("timeline",),
    ("fsck",),
    ("gc", "--dry-run"),
    ("hash", "data"),
    ("debug", "clean"),
    ("apply",),  # once more: what the first left behind
)
WORDS = {0, 1, 2, 3, 4, 5, 64}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_command_ends_in_words(tmp_path: Path, case: Path) -> None:
    env = healthy(tmp_path)
    damage(case, tmp_path, env)
    for args in COMMANDS:
        done = kite(*args, cwd=tmp_path, env=env, timeout=60)
        # `kite logs` prints what the commands printed, their own tracebacks too, and apply
        # and show the end of a failed command's output, indented
        said = done.stderr if args[0] == "logs" else done.stdout + done.stderr
        said = "\n".join(line for line in said.splitlines() if not line.startswith("    "))
        assert "Traceback" not in said, (args, said)
        assert "internal error" not in said, (args, said)
        assert done.code in WORDS, (args, done.code, said)


def test_an_output_folder_replaced_by_a_file_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    log = make_project(tmp_path, days=("2024-01-01",))
    env = {"CALLS_LOG": str(log)}
    assert kite("apply", cwd=tmp_path, env=env).code == 0
    log.unlink()
    subprocess.run(
        ["sh", str(Path(__file__).parent / "damaged/output-a-file/damage.sh")],
        cwd=tmp_path,
        check=True,
    )
    for args in (("apply",), ("apply", "--stage", "clean")):
        done = kite(*args, cwd=tmp_path, env=env)
        assert done.code == 3, done.stderr
        assert "data/clean is a file, where stage clean writes its output 'clean'" in done.stderr
    assert not log.exists()  # nothing ran
    assert not list((tmp_path / ".kite" / "tmp").glob("*"))  # and no scratch was left
    assert (tmp_path / "data/clean").read_text() == "x\n"  # the file is the user's: kept
