"""Listing: a tree kept up to date change by change is the tree `from_files` builds anew."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kitecli.scan.hashing import digest_bytes
from kitecli.scan.listing import Listing
from kitecli.scan.manifest import EMPTY, FileEntry, from_files

segment = st.sampled_from(["a", "b", "c", "d.csv", "é", "x y", "B"])
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)
entries = st.builds(
    lambda n, size: FileEntry(digest_bytes(bytes([n])), size),
    st.integers(0, 3),
    st.integers(0, 2),
)
# a change: (path, entry) sets a file, (path, None) removes it if it is there
changes = st.lists(st.tuples(paths, st.none() | entries), max_size=40)


def fits(files: dict[str, FileEntry], path: str) -> bool:
    """Whether `path` can be a file next to `files` (a name is a file or a folder)."""
    above = {path.rsplit("/", i)[0] for i in range(1, path.count("/") + 1)}
    return not above & files.keys() and not any(p.startswith(path + "/") for p in files)


def assert_same(listing: Listing, files: dict[str, FileEntry]) -> None:
    whole = from_files(files)
    kept = listing.manifest()
    assert kept.digest == whole.digest
    assert dict(kept.trees) == dict(whole.trees)
    assert dict(kept.files) == files
    for folder in [*whole.trees, "absent", "a/absent"]:
        sub = whole.subtree(folder)
        assert listing.summary(folder) == (sub.digest, len(sub.files), sub.bytes)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(paths, entries, max_size=20), changes)
def test_changes_give_the_tree_built_anew(start: dict[str, FileEntry], steps: list) -> None:  # type: ignore[type-arg]
    files: dict[str, FileEntry] = {}
    for path, entry in start.items():
        if fits(files, path):
            files[path] = entry
    listing = Listing(files)
    assert_same(listing, files)
    for i, (path, entry) in enumerate(steps):
        if entry is None:
            listing.pop(path, None)
            files.pop(path, None)
        elif fits(files, path):
            listing[path] = entry
            files[path] = entry
        if i % 3 == 0:  # digests asked for now and then, between runs of changes
            assert_same(listing, files)
    assert_same(listing, files)


def test_the_last_file_gone_takes_its_folders_with_it() -> None:
    entry = FileEntry(digest_bytes(b"x"), 1)
    listing = Listing({"a/b/c.txt": entry, "d.txt": entry})
    del listing["a/b/c.txt"]
    assert set(listing.manifest().trees) == {""}
    assert listing.summary("a") == (EMPTY.digest, 0, 0)
    assert listing.summary("") == (from_files({"d.txt": entry}).digest, 1, 1)


def test_a_folder_of_many_files_sorts_its_records_as_from_files_does() -> None:
    files = {f"s/{n}.csv": FileEntry(digest_bytes(str(n).encode()), n) for n in range(500)}
    listing = Listing(files)
    listing.manifest()
    for n in range(0, 500, 7):  # more changes than are inserted one by one, then fewer
        files[f"s/{n}x.csv"] = listing[f"s/{n}x.csv"] = FileEntry(digest_bytes(b"n"), 1)
    assert_same(listing, files)
    del files["s/3.csv"], listing["s/3.csv"]
    files["s/3.csv"] = listing["s/3.csv"] = FileEntry(digest_bytes(b"m"), 2)
    assert_same(listing, files)
