"""diff(old, new): exact, symmetric, and blind to subtrees whose digests are equal."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import Diff, FileEntry, Folder, Manifest, diff, from_files

segment = st.sampled_from(["a", "b", "c", "d.csv", "é", "x y"])
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)
entries = st.builds(
    lambda n, size: FileEntry(digest_bytes(bytes([n])), size),
    st.integers(0, 3),
    st.integers(0, 2),
)


def consistent(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
    """Drop paths that are also a directory of another path (a name is a file or a dir)."""
    dirs = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    return {p: e for p, e in files.items() if p not in dirs}


trees = st.dictionaries(paths, entries, max_size=25).map(consistent)


@settings(max_examples=300, deadline=None)
@given(trees, trees)
def test_diff_takes_old_to_new(a: dict[str, FileEntry], b: dict[str, FileEntry]) -> None:
    old, new = from_files(a), from_files(b)
    change = diff(old, new)
    assert set(change.added) == b.keys() - a.keys()
    assert set(change.removed) == a.keys() - b.keys()
    assert set(change.modified) == {p for p in a.keys() & b.keys() if a[p] != b[p]}
    assert list(change.added) == sorted(change.added)
    back = diff(new, old)
    assert (back.added, back.removed, back.modified) == (
        change.removed,
        change.added,
        change.modified,
    )
    assert bool(change) == (old.digest != new.digest)


@settings(max_examples=100, deadline=None)
@given(trees)
def test_a_manifest_does_not_differ_from_itself(a: dict[str, FileEntry]) -> None:
    assert diff(from_files(a), from_files(dict(a))) == Diff()


class Watched(Mapping[str, Folder]):
    """A manifest's folder index that remembers which folders were looked at."""

    def __init__(self, inner: Mapping[str, Folder]) -> None:
        self.inner = inner
        self.seen: set[str] = set()

    def __getitem__(self, key: str) -> Folder:
        self.seen.add(key)
        return self.inner[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def watched(manifest: Manifest) -> Watched:
    index = Watched(manifest.folders)
    manifest.__dict__["folders"] = index  # replace the cached index
    return index


def test_identical_subtrees_are_skipped() -> None:
    big = {f"archive/{y}/{m:02d}/part{i}.csv": FileEntry(digest_bytes(b"%d" % i), i)
           for y in range(2000, 2020) for m in range(1, 13) for i in range(5)}  # fmt: skip
    old = from_files({**big, "today/a.csv": FileEntry(digest_bytes(b"a"), 1)})
    new = from_files({**big, "today/a.csv": FileEntry(digest_bytes(b"A"), 1)})
    seen_old, seen_new = watched(old), watched(new)
    assert diff(old, new) == Diff(modified=("today/a.csv",))
    assert seen_old.seen == seen_new.seen == {"", "today"}


def test_dir_replaced_by_file_and_back() -> None:
    as_dir = from_files({"a/x": FileEntry(digest_bytes(b"x"), 1)})
    as_file = from_files({"a": FileEntry(digest_bytes(b"x"), 1)})
    assert diff(as_dir, as_file) == Diff(added=("a",), removed=("a/x",))
    assert diff(as_file, as_dir) == Diff(added=("a/x",), removed=("a",))


def test_manifests_without_tree_digests_are_still_compared() -> None:
    files = {"a/x": FileEntry(digest_bytes(b"x"), 1)}
    other = {"a/x": FileEntry(digest_bytes(b"y"), 1)}
    bare_old = Manifest(digest="b3:" + "0" * 64, files=files)
    bare_new = Manifest(digest="b3:" + "1" * 64, files=other)
    assert diff(bare_old, bare_new) == Diff(modified=("a/x",))
