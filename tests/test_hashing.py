"""blake3 of bytes and files: the digest format, every read strategy, files that move."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kitecli.scan import hashing
from kitecli.scan.hashing import (
    FileChanged,
    digest_bytes,
    hash_checked,
    hash_file,
    quick_digest,
    read_buffer,
    to_raw,
    to_text,
)

# blake3 of the empty string, from the BLAKE3 test vectors
EMPTY_B3 = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def test_digest_format() -> None:
    assert digest_bytes(b"") == EMPTY_B3
    assert to_text(to_raw(EMPTY_B3)) == EMPTY_B3
    with pytest.raises(ValueError, match="not a b3 digest"):
        to_raw("sha256:" + "0" * 64)


@pytest.mark.parametrize("size", [0, 1, 2048, 100_000, 300_000])
def test_every_read_strategy_gives_the_same_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    expected = digest_bytes(data)
    assert hash_file(path) == (expected, size)
    # force the mapped path (and blake3's threads) at small sizes
    monkeypatch.setattr(hashing, "MMAP_MIN", 1)
    monkeypatch.setattr(hashing, "THREADS_MIN", 1)
    if size:
        assert hash_file(path) == (expected, size)


def test_a_file_that_grew_since_its_stat_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    before = path.stat()
    path.write_bytes(b"abcdef")
    raw, after = hash_checked(str(path), before)
    assert to_text(raw) == digest_bytes(b"abcdef")
    assert after.st_size == 6
    assert quick_digest(str(path), before, read_buffer()) is None  # refuses a moved file
    assert quick_digest(str(path), path.stat(), read_buffer()) == raw


def test_a_file_that_keeps_changing_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "busy.log"
    path.write_bytes(b"x")
    real = hashing.hash_fd
    writes = 0

    def append_while_reading(fd: int, size: int) -> tuple[bytes, int]:
        nonlocal writes
        writes += 1
        with open(path, "ab") as handle:
            handle.write(b"more")
        return real(fd, size)

    monkeypatch.setattr(hashing, "hash_fd", append_while_reading)
    with pytest.raises(FileChanged, match=r"busy\.log"):
        hash_checked(str(path), path.stat())
    assert writes == 3


def test_a_file_replaced_by_a_symlink_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    before = path.stat()
    (tmp_path / "g").write_bytes(b"y")
    path.unlink()
    path.symlink_to(tmp_path / "g")
    with pytest.raises(FileChanged):
        hash_checked(str(path), before)
