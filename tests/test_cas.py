"""The local content-addressed store: ingest once, materialise by link, read-only results."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kitecli.errors import Damaged, KiteError
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import FileEntry
from kitecli.store import cas
from kitecli.store.cas import LocalCAS


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> LocalCAS:
    return LocalCAS(tmp_path / ".kite" / "cache")


def test_blobs_live_under_their_digest(tmp_path: Path, store: LocalCAS) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes(b"a,b\n1,2\n")
    entry = store.ingest(source)
    digest = digest_bytes(b"a,b\n1,2\n")
    assert entry == FileEntry(digest, 8)
    hexdigest = digest.removeprefix("b3:")
    assert store.path_of(digest) == store.root / hexdigest[:2] / hexdigest[2:]
    assert store.has(digest)
    assert store.path_of(digest).read_bytes() == source.read_bytes()
    assert mode(store.path_of(digest)) == 0o444
    assert source.read_bytes() == b"a,b\n1,2\n"  # the source is left alone
    assert not store.has(digest_bytes(b"other"))


def test_ingesting_an_existing_blob_copies_nothing(
    tmp_path: Path, store: LocalCAS, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "one").write_bytes(b"same")
    (tmp_path / "two").write_bytes(b"same")
    first = store.ingest(tmp_path / "one")
    blob = store.path_of(first.digest).stat()

    def no_copy(*args: object, **kw: object) -> None:
        raise AssertionError("copied")

    monkeypatch.setattr(shutil, "copyfile", no_copy)
    monkeypatch.setitem(cas._METHODS, "reflink", no_copy)
    assert store.ingest(tmp_path / "two") == first
    assert store.ingest(tmp_path / "two", entry=first) == first
    again = store.path_of(first.digest).stat()
    assert (again.st_ino, again.st_mtime_ns) == (blob.st_ino, blob.st_mtime_ns)


def test_materialise_copies_and_is_read_only(tmp_path: Path, store: LocalCAS) -> None:
    (tmp_path / "src").write_bytes(b"payload")
    entry = store.ingest(tmp_path / "src")
    dest = tmp_path / "data" / "out" / "x.bin"
    method = store.materialize(entry.digest, dest)
    assert method in ("reflink", "copy")  # never a hard link: its own inode
    assert dest.read_bytes() == b"payload"
    assert mode(dest) == 0o444
    assert dest.stat().st_ino != store.path_of(entry.digest).stat().st_ino
    os.chmod(dest, 0o644)  # what a user can do to a file they own
    dest.write_bytes(b"edited")
    assert store.verify(entry.digest)  # the store is untouched
    assert store.path_of(entry.digest).read_bytes() == b"payload"


def test_a_hard_link_is_used_only_when_asked_for(tmp_path: Path) -> None:
    store = LocalCAS(tmp_path / "cache", order=("hardlink", "copy"))
    (tmp_path / "src").write_bytes(b"payload")
    entry = store.ingest(tmp_path / "src")
    dest = tmp_path / "data" / "x.bin"
    assert store.materialize(entry.digest, dest) == "hardlink"
    inode = dest.stat().st_ino
    assert inode == store.path_of(entry.digest).stat().st_ino
    assert store.materialize(entry.digest, dest) == "hardlink"  # already there: no-op
    assert dest.stat().st_ino == inode
    if os.geteuid() != 0:  # root may write anything; everyone else is refused
        with pytest.raises(PermissionError):
            dest.write_bytes(b"corrupt")


def test_a_corrupt_blob_fails_verification_and_is_moved_aside(
    tmp_path: Path, store: LocalCAS
) -> None:
    (tmp_path / "src").write_bytes(b"payload")
    entry = store.ingest(tmp_path / "src")
    blob = store.path_of(entry.digest)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"overwritten")
    assert not store.verify(entry.digest)
    assert not store.has(entry.digest)
    assert [p.read_bytes() for p in (store.root / "quarantine").iterdir()] == [b"overwritten"]
    # listed with no digest, as a temporary is: nothing references it, gc removes it later
    assert [(b.key.split("/")[0], b.digest) for b in store.blobs()] == [("quarantine", None)]
    assert not store.verify(entry.digest)  # missing now


def test_ingest_replaces_a_corrupt_blob_of_the_same_name(tmp_path: Path, store: LocalCAS) -> None:
    (tmp_path / "src").write_bytes(b"payload")
    entry = store.ingest(tmp_path / "src")
    blob = store.path_of(entry.digest)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"overwritten")
    (tmp_path / "again").write_bytes(b"payload")
    assert store.ingest(tmp_path / "again", move=True) == entry
    assert blob.read_bytes() == b"payload"
    assert store.verify(entry.digest)


def test_move_copies_a_file_linked_elsewhere(tmp_path: Path, store: LocalCAS) -> None:
    (tmp_path / "raw").write_bytes(b"raw input")
    os.link(tmp_path / "raw", tmp_path / "out")  # a command that links its input as output
    before = mode(tmp_path / "raw")
    entry = store.ingest(tmp_path / "out", move=True)
    assert store.path_of(entry.digest).stat().st_ino != (tmp_path / "raw").stat().st_ino
    assert mode(tmp_path / "raw") == before  # the user's file is not made read-only


def test_the_order_is_configurable(tmp_path: Path) -> None:
    store = LocalCAS(tmp_path / "cache", order=("copy",))
    (tmp_path / "src").write_bytes(b"payload")
    entry = store.ingest(tmp_path / "src")
    dest = tmp_path / "data" / "x.bin"
    assert store.materialize(entry.digest, dest) == "copy"
    assert dest.stat().st_ino != store.path_of(entry.digest).stat().st_ino
    assert mode(dest) == 0o444
    with pytest.raises(KiteError, match="unknown materialisation method: symlink"):
        LocalCAS(tmp_path / "cache", order=("symlink",))  # type: ignore[arg-type]


def test_unsupported_methods_fall_through(
    tmp_path: Path, store: LocalCAS, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(source: Path, dest: Path) -> None:
        raise OSError(18, "Invalid cross-device link")  # EXDEV

    monkeypatch.setitem(cas._METHODS, "reflink", cross_device)
    monkeypatch.setitem(cas._METHODS, "hardlink", cross_device)
    (tmp_path / "src").write_bytes(b"payload")
    entry = store.ingest(tmp_path / "src")
    dest = tmp_path / "data" / "x.bin"
    assert store.materialize(entry.digest, dest) == "copy"
    assert dest.read_bytes() == b"payload"
    assert [p.name for p in dest.parent.iterdir()] == ["x.bin"]  # no temporary left behind


def test_materialise_replaces_what_is_there(tmp_path: Path, store: LocalCAS) -> None:
    (tmp_path / "src").write_bytes(b"new")
    entry = store.ingest(tmp_path / "src")
    dest = tmp_path / "data" / "x.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old content")
    store.materialize(entry.digest, dest)
    assert dest.read_bytes() == b"new"


def test_a_missing_blob_is_damage(tmp_path: Path, store: LocalCAS) -> None:
    with pytest.raises(Damaged, match="is not in the content store"):
        store.materialize(digest_bytes(b"never stored"), tmp_path / "x")


def test_move_takes_the_file_itself(tmp_path: Path, store: LocalCAS) -> None:
    out = tmp_path / "task-output.bin"
    out.write_bytes(b"fresh")
    inode = out.stat().st_ino
    entry = store.ingest(out, move=True)
    assert not out.exists()
    assert store.path_of(entry.digest).stat().st_ino == inode
    assert mode(store.path_of(entry.digest)) == 0o444


def test_a_source_that_changed_after_hashing_is_not_stored(tmp_path: Path, store: LocalCAS) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"version 2")
    stale = FileEntry(digest_bytes(b"version 1"), 9)
    with pytest.raises(KiteError, match="changed while it was being stored"):
        store.ingest(source, entry=stale)
    assert not store.has(stale.digest)
    assert list(store.path_of(stale.digest).parent.iterdir()) == []
