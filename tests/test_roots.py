"""One data-root contract (kitecli.store.roots) on local disk, S3 and GCS: manifests of folders,
input views that are plain local folders, placing and removing files from the CAS."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitecli.errors import ProjectError
from kitecli.scan.manifest import FileEntry, scan
from kitecli.store.cas import LocalCAS
from kitecli.store.dataroot import DataRoot
from kitecli.store.remote_cas import RemoteCAS
from kitecli.store.roots import LocalRoot, ObjectRoot, Root


@pytest.fixture(params=["local", "s3", "gcs"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Root:
    """An empty data root with a CAS beside it (whole-folder views staged in tmp_path)."""
    if request.param == "local":
        return LocalRoot(tmp_path / "data", cas=LocalCAS(tmp_path / "cache"))
    bucket = str(request.getfixturevalue(f"{request.param}_bucket"))
    return ObjectRoot(
        DataRoot(f"{bucket}/data"), cas=RemoteCAS(f"{bucket}/cache"), staging=tmp_path / "staged"
    )


def place(root: Root, tmp_path: Path, files: dict[str, bytes]) -> dict[str, FileEntry]:
    """Put `files` into the CAS and place them in the root; their entries."""
    entries = {}
    for rel, data in files.items():
        source = tmp_path / "src" / rel
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(data)
        cas = root.cas  # type: ignore[attr-defined]
        entries[rel] = cas.ingest(source)
        root.place(rel, entries[rel])
    return entries


FILES = {"raw/2024/a.csv": b"a\n", "raw/2024/b.csv": b"bb\n", "raw/c.csv": b"", "ref/s.txt": b"s"}


def test_a_manifest_equals_the_scan_of_the_same_files(root: Root, tmp_path: Path) -> None:
    entries = place(root, tmp_path, FILES)
    found = root.manifest(["raw", "ref", "missing"])
    assert found.files == entries
    assert found.subtree("raw").digest == scan(tmp_path / "src" / "raw").digest
    assert "missing" not in found.trees


def test_views_are_local_folders_of_exactly_the_datums_files(root: Root, tmp_path: Path) -> None:
    entries = place(root, tmp_path, FILES)
    keyed = tmp_path / "views" / "keyed"
    root.view("raw", keyed, {"2024/a.csv": entries["raw/2024/a.csv"]})
    assert [p.relative_to(keyed).as_posix() for p in keyed.rglob("*") if p.is_file()] == [
        "2024/a.csv"
    ]
    assert (keyed / "2024/a.csv").read_bytes() == b"a\n"
    assert (keyed / "2024/a.csv").stat().st_mode & 0o222 == 0  # read-only
    whole = tmp_path / "views" / "whole"
    root.view("raw", whole, None)
    assert scan(whole).digest == root.manifest(["raw"]).subtree("raw").digest
    again = tmp_path / "views" / "again"
    root.view("raw", again, None)  # on an object store: the folder downloaded once
    assert again.resolve() == whole.resolve()
    empty = tmp_path / "views" / "empty"
    root.view("nothing", empty, None)
    assert empty.is_dir()
    assert list(empty.iterdir()) == []


def test_placed_files_can_be_replaced_and_removed(root: Root, tmp_path: Path) -> None:
    entries = place(root, tmp_path, {"out/x.txt": b"one"})
    assert root.holds("out/x.txt")
    newer = place(root, tmp_path, {"out/x.txt": b"two"})
    assert newer != entries
    assert root.manifest(["out"]).files == newer
    root.remove("out/x.txt")
    root.remove("out/x.txt")  # gone already: no error
    assert not root.holds("out/x.txt")
    assert root.manifest(["out"]).files == {}


@pytest.mark.parametrize("rel", ["../outside.txt", "/etc/x", "out/../../x", "out//x", ""])
def test_paths_that_leave_the_root_are_refused(root: Root, tmp_path: Path, rel: str) -> None:
    entry = place(root, tmp_path, {"ok.txt": b"x"})["ok.txt"]
    with pytest.raises(ProjectError, match="not a plain path inside the data root"):
        root.place(rel, entry)
    with pytest.raises(ProjectError, match="not a plain path inside the data root"):
        root.remove(rel)
