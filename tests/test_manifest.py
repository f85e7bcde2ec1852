"""Manifests: the documented encoding, a golden digest, scan against from_files, names."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from blake3 import blake3

from kitecli.errors import KiteError
from kitecli.scan import manifest
from kitecli.scan.manifest import EMPTY, FileEntry, from_files, scan, summarize

TREE = {
    "a.txt": b"hello\n",
    "sub/b.bin": bytes(range(256)),
    "sub/deeper/c": b"",
    "z/last.csv": b"id,value\n1,2\n",
}
# The digest of TREE plus the empty directory `empty/`, on any machine, forever: changing
# the encoding changes this, and every stored manifest with it.
GOLDEN = "b3:27e947f6f44103a48db93aa996b73520ed87976cec38f7c3ebc83390fdc1dff0"


def make(root: Path, files: dict[str, bytes], empty: tuple[str, ...] = ()) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for rel in empty:
        (root / rel).mkdir(parents=True)
    return root


def by_the_book(files: dict[bytes, bytes], dirs: dict[bytes, bytes]) -> bytes:
    """The tree digest per docs/manifests.md, written independently of kitecli."""
    records = []
    for name, data in files.items():
        digest = blake3(data).digest()
        records.append(
            (
                name,
                b"f" + len(name).to_bytes(4, "big") + name + digest + len(data).to_bytes(8, "big"),
            )
        )
    for name, digest in dirs.items():
        records.append((name, b"d" + len(name).to_bytes(4, "big") + name + digest))
    return blake3(b"kite-tree-1\n" + b"".join(r for _, r in sorted(records))).digest()


def test_encoding_is_the_documented_one(tmp_path: Path) -> None:
    root = make(tmp_path / "d", TREE, empty=("empty",))
    deeper = by_the_book({b"c": b""}, {})
    sub = by_the_book({b"b.bin": bytes(range(256))}, {b"deeper": deeper})
    z = by_the_book({b"last.csv": TREE["z/last.csv"]}, {})
    empty = by_the_book({}, {})
    top = by_the_book({b"a.txt": b"hello\n"}, {b"sub": sub, b"z": z, b"empty": empty})
    got = scan(root, jobs=1)
    assert got.digest == "b3:" + top.hex()
    assert got.trees["sub/deeper"] == "b3:" + deeper.hex()
    assert got.trees["empty"] == EMPTY.digest


def test_golden_digest(tmp_path: Path) -> None:
    root = make(tmp_path / "d", TREE, empty=("empty",))
    assert scan(root, jobs=1).digest == GOLDEN
    assert scan(root, jobs=2).digest == GOLDEN
    assert summarize(root).digest == GOLDEN


def test_scan_agrees_with_from_files(tmp_path: Path) -> None:
    root = make(tmp_path / "d", TREE, empty=("empty", "sub/void"))
    got = scan(root)
    assert set(got.files) == set(TREE)
    assert got.files["sub/b.bin"] == FileEntry(manifest.digest_bytes(bytes(range(256))), 256)
    rebuilt = from_files(got.files, empty_dirs=["empty", "sub/void"])
    assert rebuilt.digest == got.digest
    assert rebuilt.trees == got.trees
    assert got.bytes == sum(len(v) for v in TREE.values())


def test_summary_counts_files_and_bytes(tmp_path: Path) -> None:
    root = make(tmp_path / "d", TREE)
    summary = summarize(root)
    assert (summary.files, summary.bytes) == (4, sum(len(v) for v in TREE.values()))
    assert summary.digest == scan(root).digest


def test_missing_root_is_empty_and_a_file_root_is_refused(tmp_path: Path) -> None:
    assert scan(tmp_path / "nothing") == EMPTY
    (tmp_path / "f").write_text("x")
    with pytest.raises(KiteError, match="not a directory"):
        scan(tmp_path / "f")


def test_empty_directories_count(tmp_path: Path) -> None:
    bare = scan(make(tmp_path / "a", {"x": b"1"}))
    with_empty = scan(make(tmp_path / "b", {"x": b"1"}, empty=("e",)))
    assert bare.digest != with_empty.digest
    assert with_empty.trees["e"] == EMPTY.digest
    assert scan(make(tmp_path / "c", {}, empty=("e",))).digest != EMPTY.digest


def test_subtree_is_the_scan_of_the_subdirectory(tmp_path: Path) -> None:
    root = make(tmp_path / "d", TREE)
    whole = scan(root)
    part = whole.subtree("sub")
    alone = scan(root / "sub")
    assert (part.digest, dict(part.files), dict(part.trees)) == (
        alone.digest,
        dict(alone.files),
        dict(alone.trees),
    )
    assert whole.subtree("nope") == EMPTY
    assert whole.subtree("/") is whole


def test_the_same_bytes_give_the_same_digest_wherever_they_are(tmp_path: Path) -> None:
    one = scan(make(tmp_path / "one", TREE))
    two = scan(make(tmp_path / "elsewhere" / "two", TREE))
    assert one.digest == two.digest


def test_names_are_bytes_not_normalised(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "café.csv")
    nfd = unicodedata.normalize("NFD", "café.csv")
    a = scan(make(tmp_path / "a", {nfc: b"1"}))
    b = scan(make(tmp_path / "b", {nfd: b"1"}))
    assert list(a.files) == [nfc]
    assert a.digest != b.digest
    assert from_files(a.files).digest == a.digest


def test_non_utf8_names(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    raw = b"caf\xe9.csv"  # Latin-1, not UTF-8
    fd = os.open(os.path.join(os.fsencode(root), raw), os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"data")
    os.close(fd)
    got = scan(root)
    (name,) = got.files
    assert os.fsencode(name) == raw
    expected = by_the_book({raw: b"data"}, {})
    assert got.digest == "b3:" + expected.hex()
    assert from_files(got.files).digest == got.digest


def test_kite_state_is_not_data(tmp_path: Path) -> None:
    root = make(tmp_path / "d", {"x": b"1"})
    before = scan(root).digest
    make(root, {".kite/state.db": b"whatever", "sub/.kite/cache/ab": b"blob"})
    after = scan(root)
    assert "sub" in after.trees
    assert not any(".kite" in p for p in after.files)
    assert after.trees["sub"] == EMPTY.digest
    assert scan(root / "sub").digest == EMPTY.digest
    assert before != after.digest  # only because of the now non-empty "sub"


def test_large_files_take_the_mapped_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kitecli.scan import hashing

    monkeypatch.setattr(hashing, "MMAP_MIN", 1024)  # "large" from 1 KiB on
    monkeypatch.setattr(hashing, "THREADS_MIN", 4096)  # blake3's threads from 4 KiB on
    data = {"small": b"s" * 100, "large": os.urandom(3000), "huge": os.urandom(9000)}
    got = scan(make(tmp_path / "d", data), jobs=1)
    assert {p: e.digest for p, e in got.files.items()} == {
        p: manifest.digest_bytes(v) for p, v in data.items()
    }
