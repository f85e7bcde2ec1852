"""The stat cache: an unchanged file is never hashed twice; a racy or moved one always is."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from kitecli.scan import statcache, walker
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import scan, summarize
from kitecli.scan.statcache import StatCache, default_path


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written before a scan count as settled (no racy window), as minutes-old ones do."""
    monkeypatch.setattr(walker, "RACY_NS", 0)


def make(root: Path, count: int = 6, dirs: int = 3) -> Path:
    for i in range(count):
        path = root / f"d{i % dirs}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%d" % i * 100)
    return root


@pytest.mark.usefixtures("settled")
@pytest.mark.parametrize("jobs", [1, 2])
def test_unchanged_files_are_not_hashed_again(tmp_path: Path, jobs: int) -> None:
    root = make(tmp_path / "data")
    with StatCache(tmp_path / "state.db") as cache:
        first = summarize(root, cache=cache, jobs=jobs)
        second = summarize(root, cache=cache, jobs=jobs)
        full = scan(root, cache=cache, jobs=jobs)
    assert (first.hashed, second.hashed) == (6, 0)
    assert second.digest == first.digest == full.digest
    assert (second.files, second.bytes) == (first.files, first.bytes)
    assert full == scan(root)  # from the cache, the same manifest as reading everything


@pytest.mark.usefixtures("settled")
@pytest.mark.parametrize("jobs", [1, 2])
def test_one_changed_file_is_the_only_one_hashed(tmp_path: Path, jobs: int) -> None:
    root = make(tmp_path / "data")
    target = root / "d1" / "f4.bin"
    with StatCache(tmp_path / "state.db") as cache:
        summarize(root, cache=cache, jobs=jobs)
        old = target.stat()
        target.write_bytes(b"X" * old.st_size)  # same size,
        os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))  # same mtime: ctime moved
        after = summarize(root, cache=cache, jobs=jobs)
        again = summarize(root, cache=cache, jobs=jobs)
    assert (after.hashed, after.hashed_bytes) == (1, old.st_size)
    assert again.hashed == 0
    assert after.digest == again.digest == scan(root).digest
    assert scan(root).files["d1/f4.bin"].digest == digest_bytes(b"X" * old.st_size)


@pytest.mark.usefixtures("settled")
def test_added_and_removed_files_and_directories(tmp_path: Path) -> None:
    root = make(tmp_path / "data")
    with StatCache(tmp_path / "state.db") as cache:
        summarize(root, cache=cache)
        (root / "d0" / "f0.bin").unlink()
        (root / "new" / "deep").mkdir(parents=True)
        (root / "new" / "deep" / "n.bin").write_bytes(b"n")
        for f in (root / "d2").iterdir():
            f.unlink()
        (root / "d2").rmdir()
        after = summarize(root, cache=cache)
        rows = cache.load(os.path.realpath(root))
    assert after.hashed == 1
    assert after.digest == scan(root).digest
    assert set(rows) == {"", "d0", "d1", "new", "new/deep"}


def test_a_racy_file_is_hashed_again_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git's racy-clean rule: a file written just before the scan may change again unseen."""
    root = make(tmp_path / "data", count=2, dirs=1)
    target = root / "d0" / "f1.bin"
    stale = target.stat()
    real_lstat = os.lstat
    where = os.path.realpath(target)  # lstat is called by name, in the file's directory

    def same_tick_lstat(path: str | bytes, *args: object, **kw: object) -> os.stat_result:
        # the second write happened within the file system's timestamp granularity: its stat
        # did not move at all
        same = os.path.abspath(os.fsdecode(path)) == where
        return stale if same else real_lstat(path)

    with StatCache(tmp_path / "state.db") as cache:
        first = summarize(root, cache=cache)  # written a moment ago: racy
        target.write_bytes(b"Y" * stale.st_size)
        monkeypatch.setattr(os, "lstat", same_tick_lstat)
        second = summarize(root, cache=cache)
    assert first.hashed == 2
    assert second.hashed == 2  # neither was trusted: both are read again
    assert second.digest == scan(root).digest != first.digest


def test_without_the_racy_rule_that_change_would_be_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counterpart of the test above: it shows what the rule protects against."""
    monkeypatch.setattr(walker, "RACY_NS", -(10**18))  # pretend every file is old
    root = make(tmp_path / "data", count=2, dirs=1)
    target = root / "d0" / "f1.bin"
    stale = target.stat()
    real_lstat = os.lstat
    where = os.path.realpath(target)
    with StatCache(tmp_path / "state.db") as cache:
        first = summarize(root, cache=cache)
        target.write_bytes(b"Y" * stale.st_size)
        monkeypatch.setattr(
            os,
            "lstat",
            lambda p, *a, **k: stale if os.path.abspath(p) == where else real_lstat(p),
        )
        second = summarize(root, cache=cache)
    assert second.hashed == 0
    assert second.digest == first.digest  # stale: the rule exists for this


@pytest.mark.usefixtures("settled")
def test_any_spelling_of_the_root_shares_the_cache(tmp_path: Path) -> None:
    root = make(tmp_path / "data")
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    with StatCache(tmp_path / "state.db") as cache:
        summarize(root, cache=cache)
        assert summarize(tmp_path / "alias", cache=cache).hashed == 0
        assert summarize(root / "d1", cache=cache).hashed == 0
        assert summarize(root / "d1" / ".." / "d1", cache=cache).hashed == 0


@pytest.mark.usefixtures("settled")
def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    root = make(tmp_path / "data")
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a database" * 100)
    with StatCache(db) as cache:
        assert summarize(root, cache=cache).hashed == 6
    with StatCache(db) as cache:
        assert summarize(root, cache=cache).hashed == 0


@pytest.mark.usefixtures("settled")
def test_an_older_schema_is_dropped(tmp_path: Path) -> None:
    root = make(tmp_path / "data")
    db = tmp_path / "state.db"
    with StatCache(db) as cache:
        summarize(root, cache=cache)
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {statcache.SCHEMA_VERSION + 1}")
    with StatCache(db) as cache:
        assert summarize(root, cache=cache).hashed == 6


@pytest.mark.usefixtures("settled")
def test_two_caches_on_one_file(tmp_path: Path) -> None:
    root = make(tmp_path / "data")
    with StatCache(tmp_path / "state.db") as one, StatCache(tmp_path / "state.db") as two:
        summarize(root, cache=one)
        (root / "d0" / "f0.bin").write_bytes(b"changed")
        assert summarize(root, cache=two).hashed == 1
        assert summarize(root, cache=one).hashed == 0
        assert one.error is None
        assert two.error is None


def test_where_the_cache_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "deep" / "er").mkdir(parents=True)
    (project / "pipeline.yaml").write_text("kite: 1\n")
    assert default_path(project / "deep" / "er") == str(project / ".kite" / "state.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_path(elsewhere) == str(tmp_path / "xdg" / "kite" / "state.db")
