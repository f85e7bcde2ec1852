"""What a scan does with symlinks, special files, unreadable files and moving targets."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem_unittest import Patcher

from kitecli.errors import KiteError
from kitecli.scan import hashing, scanner, walker
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import diff, scan
from kitecli.scan.statcache import StatCache


def make(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    root.mkdir(parents=True, exist_ok=True)
    return root


def test_a_symlink_inside_is_hashed_as_its_target(tmp_path: Path) -> None:
    copied = scan(make(tmp_path / "copy", {"data/x.csv": b"1,2", "alias.csv": b"1,2"}))
    linked = make(tmp_path / "link", {"data/x.csv": b"1,2"})
    (linked / "alias.csv").symlink_to("data/x.csv")
    assert scan(linked).digest == copied.digest
    (linked / "alias.csv").unlink()
    (linked / "alias.csv").symlink_to(linked / "data" / "x.csv")  # absolute, still inside
    assert scan(linked).digest == copied.digest


def test_a_symlinked_directory_inside_is_hashed_as_its_target(tmp_path: Path) -> None:
    files = {"2024/a.csv": b"a", "2024/b.csv": b"b"}
    copied = scan(make(tmp_path / "copy", {**files, "latest/a.csv": b"a", "latest/b.csv": b"b"}))
    linked = make(tmp_path / "link", files)
    (linked / "latest").symlink_to("2024", target_is_directory=True)
    got = scan(linked)
    assert got.digest == copied.digest
    assert got.files["latest/a.csv"] == got.files["2024/a.csv"]


def test_a_root_that_is_a_symlink_is_followed(tmp_path: Path) -> None:
    real = make(tmp_path / "real", {"x": b"1"})
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert scan(tmp_path / "alias").digest == scan(real).digest


def test_a_symlink_that_escapes_is_an_error_naming_it(tmp_path: Path) -> None:
    make(tmp_path, {"secret.txt": b"s"})
    root = make(tmp_path / "d", {"ok.csv": b"1"})
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(KiteError) as caught:
        scan(root)
    assert f"{root / 'leak.txt'}: symlink to {tmp_path / 'secret.txt'}" in caught.value.message
    assert caught.value.hint
    assert "link only within it" in caught.value.hint


def test_broken_symlinks_and_loops_are_errors(tmp_path: Path) -> None:
    root = make(tmp_path / "d", {"a/x": b"1", "b/y": b"2"})
    (root / "dangling").symlink_to("nowhere")
    (root / "a" / "up").symlink_to("..", target_is_directory=True)
    (root / "a" / "to_b").symlink_to("../b", target_is_directory=True)
    (root / "b" / "to_a").symlink_to("../a", target_is_directory=True)  # a → b → a
    with pytest.raises(KiteError) as caught:
        scan(root, jobs=1)
    message = caught.value.message
    assert "dangling: broken symlink" in message
    assert f"{root / 'a' / 'up'}: symlink loop" in message
    assert "to_a/to_b: symlink loop" in message or "to_b/to_a: symlink loop" in message


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_special_files_are_refused(tmp_path: Path, kind: str) -> None:
    root = make(tmp_path / "d", {"ok.csv": b"1"})
    special = root / "sub" / "thing"
    special.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(special)
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(special))
        server.close()
    with pytest.raises(KiteError) as caught:
        scan(root)
    what = "a named pipe" if kind == "fifo" else "a socket"
    assert f"{special}: {what}, not a regular file" in caught.value.message


def test_unreadable_files_and_directories_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # as a user other than root (root reads everything), in a fake file system; as if other
    # threads ran (pyfakefs does not check permissions on changing directory)
    monkeypatch.setattr(scanner, "can_fork", lambda: False)
    with Patcher(allow_root_user=False) as patcher:
        fs = patcher.fs
        assert fs is not None
        fs.create_file("/data/private/a.csv", contents="2", st_mode=stat.S_IFREG)
        fs.create_file("/data/secret.csv", contents="3", st_mode=stat.S_IFREG)
        fs.create_dir("/data/locked", perm_bits=0)
        with pytest.raises(KiteError) as caught:
            scan(Path("/data"), jobs=1)
    message = caught.value.message
    assert "/data/private/a.csv: unreadable file (Permission denied)" in message
    assert "/data/secret.csv: unreadable file" in message
    assert "/data/locked: unreadable directory" in message
    assert "3 entries" in message
    assert caught.value.hint
    assert "chmod" in caught.value.hint


def test_a_directory_replaced_by_a_file(tmp_path: Path) -> None:
    root = make(tmp_path / "d", {"a/x": b"1", "a/y": b"2", "b": b"3"})
    with StatCache(tmp_path / "state.db") as cache:
        before = scan(root, cache=cache)
        for name in ("x", "y"):
            (root / "a" / name).unlink()
        (root / "a").rmdir()
        (root / "a").write_bytes(b"now a file")
        (root / "b").unlink()
        (root / "b").mkdir()
        (root / "b" / "z").write_bytes(b"4")
        after = scan(root, cache=cache)
        assert cache.load(os.path.realpath(root)).keys() == {"", "b"}
    assert after == scan(root)
    assert after.files["a"].digest == digest_bytes(b"now a file")
    change = diff(before, after)
    assert change.removed == ("a/x", "a/y", "b")
    assert change.added == ("a", "b/z")
    assert change.modified == ()


def test_a_file_that_changes_while_hashed_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path / "d", {"log.txt": b"first"})
    real = walker.quick_digest
    calls = []

    def write_meanwhile(path: str, before: os.stat_result, buffer: memoryview) -> bytes | None:
        calls.append(path)
        if len(calls) == 1:
            Path(path).write_bytes(b"second, longer")
        return real(path, before, buffer)

    monkeypatch.setattr(walker, "quick_digest", write_meanwhile)
    got = scan(root, jobs=1)
    assert got.files["log.txt"].digest == digest_bytes(b"second, longer")
    assert got.files["log.txt"].size == len(b"second, longer")


def test_a_file_that_never_holds_still_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path / "d", {"log.txt": b"x"})
    real = hashing.hash_fd

    def append_while_reading(fd: int, size: int) -> tuple[bytes, int]:
        with open(root / "log.txt", "ab") as handle:
            handle.write(b"!")
        return real(fd, size)

    monkeypatch.setattr(walker, "quick_digest", lambda path, before, buffer: None)
    monkeypatch.setattr(hashing, "hash_fd", append_while_reading)
    with pytest.raises(KiteError, match=r"log\.txt: kept changing while it was being hashed"):
        scan(root, jobs=1)


def test_processes_agree_with_one(tmp_path: Path) -> None:
    files = {
        f"p{i % 3}/d{i:02d}/f{j}.bin": bytes([i, j]) * (i + j) for i in range(30) for j in range(4)
    }
    root = make(tmp_path / "d", {**files, "top.txt": b"t"})
    one = scan(root, jobs=1)
    assert len(one.files) == len(files) + 1
    for jobs in (2, 3):
        got = scan(root, jobs=jobs)
        assert (got.digest, dict(got.files), dict(got.trees)) == (
            one.digest,
            dict(one.files),
            dict(one.trees),
        )
