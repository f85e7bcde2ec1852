"""`kite fsck` finds a lost or set-back ref, a damaged kite.lock and damaged blobs, and
`kite fsck --repair` puts them right from what is intact, through the command line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kitecli.scan.hashing import hash_file
from kitecli.store.verified import Verified
from tests import helpers
from tests.e2e import calls, make_project

TOTAL = "data/total/all.txt"


def kite(root: Path, *args: str) -> helpers.Result:
    done = helpers.kite(*args, cwd=root, env={"CALLS_LOG": str(root / "calls.log")})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def applied(root: Path) -> list[str]:
    """Apply, which must succeed; what ran."""
    done = kite(root, "apply")
    assert done.code == 0, done.stderr
    return calls(root / "calls.log")


def repaired_and_converged(root: Path) -> str:
    """`kite fsck --repair` says what it did and ends ok; an apply after it runs nothing
    and fsck stays ok. Returns what the repair printed."""
    fixed = kite(root, "fsck", "--repair")
    assert fixed.code == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.strip().endswith("dev: ok"), fixed.stdout
    assert applied(root) == []
    assert kite(root, "fsck").stdout.strip() == "dev: ok"
    return fixed.stdout


def project(root: Path) -> dict[str, bytes]:
    """A project applied once; every file of its data folder and kite.lock, as bytes."""
    make_project(root)
    applied(root)
    return snapshot(root)


def snapshot(root: Path) -> dict[str, bytes]:
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in (root / "data").rglob("*")
        if p.is_file()
    }
    return files | {"kite.lock": (root / "kite.lock").read_bytes()}


def test_a_deleted_ref_is_found_and_restored_with_its_history(tmp_path: Path) -> None:
    before = project(tmp_path)
    runs = kite(tmp_path, "log").stdout
    (tmp_path / "meta/refs/dev").unlink()
    found = kite(tmp_path, "fsck")
    assert found.code == 1
    assert "metadata: ref dev is gone" in found.stdout
    assert "kite fsck --repair" in found.stdout + found.stderr
    assert kite(tmp_path, "log").code == 3  # never an empty list
    said = repaired_and_converged(tmp_path)
    assert "repaired: metadata: ref dev restored to b3:" in said
    assert kite(tmp_path, "log").stdout == runs
    assert snapshot(tmp_path) == before


def test_a_ref_set_back_is_found_and_moved_forward_again(tmp_path: Path) -> None:
    make_project(tmp_path)
    applied(tmp_path)
    first = (tmp_path / "meta/refs/dev").read_text()
    (tmp_path / "data/raw/2024-01-02.csv").write_text("day,changed\n")
    applied(tmp_path)
    before = snapshot(tmp_path)
    (tmp_path / "meta/refs/dev").write_text(first)
    found = kite(tmp_path, "fsck")
    assert found.code == 1
    assert "(the ref was set back)" in found.stdout, found.stdout
    repaired_and_converged(tmp_path)
    assert (tmp_path / "meta/refs/dev").read_text() != first
    assert snapshot(tmp_path) == before


LOCKS = {
    "empty": b"",
    "garbage": b"\x00\xff nonsense: [\n",
    "unknown-commit": None,  # a well-formed lock naming a commit nobody made
}


@pytest.mark.parametrize("damage", LOCKS, ids=list(LOCKS))
def test_a_damaged_lock_is_found_and_written_anew(tmp_path: Path, damage: str) -> None:
    before = project(tmp_path)
    lock = tmp_path / "kite.lock"
    text = LOCKS[damage]
    if text is None:
        bogus = "b3:" + "0" * 64
        commit = (tmp_path / "meta/refs/dev").read_text().strip()
        lock.write_text(lock.read_text().replace(commit, bogus))
    else:
        lock.write_bytes(text)
    found = kite(tmp_path, "fsck")
    assert found.code == 1
    assert "lock: kite.lock" in found.stdout, found.stdout
    said = repaired_and_converged(tmp_path)
    assert "repaired: lock: kite.lock written anew for dev" in said
    assert snapshot(tmp_path) == before  # the same lock as the apply wrote


def make_writable(path: Path) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def blob_of(root: Path, digest: str) -> Path:
    hexa = digest.removeprefix("b3:")
    return root / "cache" / hexa[:2] / hexa[2:]


def test_a_corrupt_blob_is_stored_again_from_an_intact_output(tmp_path: Path) -> None:
    before = project(tmp_path)
    digest = hash_file(tmp_path / TOTAL)[0]
    blob = blob_of(tmp_path, digest)
    make_writable(blob)
    blob.write_text("overwritten\n")
    found = kite(tmp_path, "fsck")
    assert f"cache: corrupt blob {digest} (used by total/total/all.txt)" in found.stdout
    said = repaired_and_converged(tmp_path)
    assert f"repaired: cache: blob {digest} stored again from data/total/all.txt" in said
    assert hash_file(blob)[0] == digest
    assert list((tmp_path / "cache/quarantine").iterdir())  # the bad bytes kept aside
    assert snapshot(tmp_path) == before


def test_a_corrupt_blob_whose_output_is_edited_too_is_made_again(tmp_path: Path) -> None:
    before = project(tmp_path)
    digest = hash_file(tmp_path / TOTAL)[0]
    for path in (blob_of(tmp_path, digest), tmp_path / TOTAL):
        make_writable(path)
        path.write_text("overwritten\n")
    fixed = kite(tmp_path, "fsck", "--repair")
    assert f"repaired: cache: blob {digest} taken out of the store" in fixed.stdout
    assert fixed.code == 1  # the data folder is apply's to put right
    assert "data: total/all.txt (total (whole)) is modified" in fixed.stdout
    assert [c.split()[0] for c in applied(tmp_path)] == ["total"]  # made again
    assert kite(tmp_path, "fsck").stdout.strip() == "dev: ok"
    del before["kite.lock"]  # a new commit: the run that made it again
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "kite.lock"} == before


def test_fsck_reads_again_only_blobs_written_since_it_found_them_intact(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_text("x")
    verified = Verified(tmp_path / "state.db")
    assert not verified.unchanged(blob)
    verified.record(blob)
    assert verified.unchanged(blob)
    blob.write_text("y")  # the same size, a new mtime and ctime
    assert not verified.unchanged(blob)
    verified.close()
