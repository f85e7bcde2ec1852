"""What kite survives: each fault case of tests/damaged/ (a folder with an `fsck` file,
tests/damage.py), done to a healthy project, then put right through the `kite` command.

After each: `kite fsck` says what is wrong and what to run; `kite fsck --repair` and one
`kite apply` converge (fsck ok, nothing left to plan); the raw inputs and every committed
output are byte-identical to before; and everything the state says succeeded is in the
data folder as recorded (which is what fsck ok checks). To add a case, add a folder.
A full disk is one more case below: it needs a small tmpfs, mounted for the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.damage import CASES, damage, healthy
from tests.helpers import kite

FAULTS = [c for c in CASES if (c / "fsck").is_file()]


def files(root: Path) -> dict[str, bytes]:
    """Every file of the data folder (raw inputs and outputs), as bytes."""
    data = root / "data"
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def converges(root: Path, env: dict[str, str]) -> None:
    fixed = kite("fsck", "--repair", cwd=root, env=env)
    assert fixed.code in (0, 1), fixed.stdout + fixed.stderr  # 1: left to apply
    assert "Traceback" not in fixed.stderr
    applied = kite("apply", cwd=root, env=env)
    assert applied.code == 0, applied.stdout + applied.stderr
    checked = kite("fsck", cwd=root, env=env)
    assert checked.stdout.strip() == "dev: ok", checked.stdout + checked.stderr
    planned = kite("plan", "--detailed-exitcode", cwd=root, env=env)
    assert planned.code == 0, planned.stdout + planned.stderr


@pytest.mark.parametrize("case", FAULTS, ids=[c.name for c in FAULTS])
def test_kite_survives(tmp_path: Path, case: Path) -> None:
    env = healthy(tmp_path)
    before = files(tmp_path)
    damage(case, tmp_path, env)
    expected = (case / "fsck").read_text().strip()
    found = kite("fsck", cwd=tmp_path, env=env)
    words = found.stdout + found.stderr
    assert "Traceback" not in words
    if expected == "ok":
        assert found.code == 0, words
    elif expected != "any":
        assert found.code == 1, words
        assert expected in found.stdout, words
        assert "kite fsck --repair" in words, words  # and what to run
    converges(tmp_path, env)
    assert files(tmp_path) == before


def test_kite_survives_a_full_disk(tmp_path: Path) -> None:
    """The cache on a tmpfs too small for the outputs: the apply fails with words and
    commits nothing it did not store; with room again, fsck --repair and apply converge."""
    cache = tmp_path / "cache"
    cache.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(cache)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        healthy_but_full(tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(cache)], check=False)


def healthy_but_full(root: Path) -> None:
    env = healthy(root)
    before = files(root)
    big = root / "data/raw/2024-01-03.csv"
    big.write_text("x" * 64 * 1024)  # its clean output does not fit in the cache
    full = kite("apply", cwd=root, env=env)
    assert full.code != 0, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    assert "No space left on device" in full.stdout + full.stderr
    assert not (root / "data/clean/2024-01-03.csv").exists()  # nothing claimed stored
    big.unlink()
    kept = root / "kept"
    shutil.copytree(root / "cache", kept, ignore=shutil.ignore_patterns(".kite-*"))
    subprocess.run(["umount", "-l", str(root / "cache")], check=True)
    shutil.rmtree(root / "cache", ignore_errors=True)
    shutil.copytree(kept, root / "cache")  # the same blobs, on a disk with room
    converges(root, env)
    assert files(root) == before


@pytest.mark.parametrize(
    "argv",
    [
        ("backfill", "--range", "2024-01-01..2024-01-02", "--reprocess", "all", "--stage", "clean"),
        ("apply", "--stage", "clean"),
    ],
    ids=["backfill", "apply"],
)
def test_a_run_of_some_stages_keeps_the_others_in_kite_lock(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    """Such a run scans only its stages' folders: kite.lock keeps what the others hold."""
    env = healthy(tmp_path)
    ran = kite(*argv, cwd=tmp_path, env=env)
    assert ran.code == 0, ran.stdout + ran.stderr
    checked = kite("fsck", cwd=tmp_path, env=env)
    assert checked.stdout.strip() == "dev: ok", checked.stdout + checked.stderr
