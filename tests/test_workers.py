"""Forked workers: their batches arrive while they run; failures and deaths are reported."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kitecli.scan import scanner, walker, workers
from kitecli.scan.manifest import scan, summarize
from kitecli.scan.statcache import DirRecord, StatCache
from kitecli.scan.workers import Send, fork_each


def test_batches_arrive_in_order_while_the_workers_run(tmp_path: Path) -> None:
    flag = tmp_path / "first batch taken"

    def work(share: str, send: Send) -> None:
        send(f"{share}:1".encode())
        deadline = time.monotonic() + 20
        while not flag.exists():  # the parent takes batch 1 before this worker is done
            if time.monotonic() > deadline:
                raise TimeoutError("batch 1 was not taken while the worker ran")
            time.sleep(0.005)
        send(f"{share}:2".encode())
        send(b"")

    taken: list[bytes] = []

    def take(data: bytes) -> None:
        taken.append(data)
        flag.touch()

    fork_each(work, ["a", "b"], take)
    for share in ("a", "b"):
        assert [t for t in taken if t.startswith(share.encode())] == [
            f"{share}:1".encode(),
            f"{share}:2".encode(),
        ]
    assert taken.count(b"") == 2
    assert len(taken) == 6


def test_a_large_batch_arrives_whole() -> None:
    big = os.urandom(3 << 20)  # larger than a pipe's buffer and than one read
    taken: list[bytes] = []
    fork_each(lambda share, send: send(big), [1, 2], taken.append)
    assert taken == [big, big]


def test_a_failing_worker_raises_with_its_traceback() -> None:
    def work(share: int, send: Send) -> None:
        send(b"fine")
        if share == 2:
            raise ValueError("share two is broken")

    with pytest.raises(RuntimeError, match="share two is broken"):
        fork_each(work, [1, 2], lambda data: None)


def test_a_worker_that_dies_is_noticed() -> None:
    def work(share: int, send: Send) -> None:
        if share == 2:
            os._exit(0)  # gone without saying it was done

    with pytest.raises(RuntimeError, match="stopped before it was done"):
        fork_each(work, [1, 2], lambda data: None)


def test_many_small_batches_give_the_same_result_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walker, "RACY_NS", 0)  # settled files: the cache keeps their digests
    monkeypatch.setattr(walker, "SPILL_DIRS", 2)  # a batch every two directories
    root = tmp_path / "data"
    for i in range(40):
        folder = root / f"d{i:02d}" / "sub"
        folder.mkdir(parents=True)
        (folder / "f.bin").write_bytes(b"%d" % i * 50)
        (folder.parent / "g.bin").write_bytes(b"g%d" % i)
    one = scan(root, jobs=1)
    with StatCache(tmp_path / "state.db") as cache:
        first = summarize(root, cache=cache, jobs=2)
        rows = cache.load(os.path.realpath(root))
        again = summarize(root, cache=cache, jobs=2)
        full = scan(root, cache=cache, jobs=3)
    assert first.digest == again.digest == full.digest == one.digest
    assert (first.hashed, again.hashed) == (80, 0)
    assert len(rows) == 81  # the root, 40 folders and 40 subfolders
    assert dict(full.files) == dict(one.files)


def test_a_tree_the_cache_knows_to_be_small_is_scanned_without_forking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    for i in range(12):  # 3 folders of 4 subfolders: enough subtrees to share
        (root / f"d{i % 3}" / f"s{i}").mkdir(parents=True)
        (root / f"d{i % 3}" / f"s{i}" / "f.bin").write_bytes(b"%d" % i)

    def no_fork(*args: object) -> None:
        raise AssertionError("forked")

    with StatCache(tmp_path / "state.db") as cache:
        first = summarize(root, cache=cache)
        records = cache.load(os.path.realpath(root))
        monkeypatch.setattr(scanner, "fork_each", no_fork)
        again = summarize(root, cache=cache)  # known: 12 files
    assert again.digest == first.digest
    assert scanner._default_jobs(records) == 1
    many = {**records, "x": DirRecord(None, (), scanner.SMALL_TREE, 0, b"", b"", None)}
    assert (
        scanner._default_jobs(many)
        == scanner._default_jobs({})
        == min(workers.cores(), scanner.MAX_JOBS)
    )
