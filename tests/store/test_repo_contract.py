"""One contract for the metadata repo, run against local disk, S3 (moto) and GCS (fake-gcs)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from kitecli.errors import ExitCode, LeaseBusy, ProjectError, StalePlanError, StoreError
from kitecli.scan.hashing import digest_bytes
from kitecli.store import open_repo
from kitecli.store.repo import Lease, Ref, Repo


@pytest.fixture
def repo(store_url: str) -> Repo:
    return open_repo(store_url)


def keys(repo: Repo) -> set[str]:
    return {s.key for s in repo.backend.list("")}


def test_objects_are_named_by_their_digest_and_laid_out_in_fanout_folders(repo: Repo) -> None:
    digest = repo.put(b"tree bytes")
    assert digest == digest_bytes(b"tree bytes")
    hexa = digest.removeprefix("b3:")
    assert keys(repo) == {f"objects/{hexa[:2]}/{hexa[2:]}"}
    assert repo.get(digest) == b"tree bytes"
    assert repo.has(digest)
    assert repo.objects() == [digest]


def test_put_is_idempotent_and_never_rewrites(repo: Repo) -> None:
    digest = repo.put(b"same")
    before = repo.backend.head(f"objects/{digest[3:5]}/{digest[5:]}")
    assert repo.put(b"same") == digest
    after = repo.backend.head(f"objects/{digest[3:5]}/{digest[5:]}")
    assert before is not None
    assert after is not None
    assert before.token == after.token


def test_a_missing_object_is_an_error_naming_it(repo: Repo) -> None:
    missing = digest_bytes(b"never stored")
    assert not repo.has(missing)
    with pytest.raises(ProjectError, match=missing):
        repo.get(missing)


def test_a_corrupt_object_is_detected_when_read(repo: Repo) -> None:
    digest = repo.put(b"good bytes")
    key = f"objects/{digest[3:5]}/{digest[5:]}"
    repo.backend.delete(key)
    assert repo.backend.create(key, b"evil bytes") is not None
    with pytest.raises(ProjectError, match="corrupt"):
        repo.get(digest)


def test_ref_of_a_new_environment_is_empty(repo: Repo) -> None:
    assert repo.ref("prod") == Ref(None, None)
    assert repo.envs() == []


def test_refs_move_by_compare_and_swap(repo: Repo) -> None:
    first, second = repo.put(b"commit 1"), repo.put(b"commit 2")
    ref1 = repo.set_ref("prod", first, expected=repo.ref("prod"))
    assert ref1.commit == first
    assert ref1.token
    assert repo.ref("prod") == ref1
    ref2 = repo.set_ref("prod", second, expected=ref1)
    assert repo.ref("prod") == ref2
    assert ref2.token != ref1.token
    assert repo.envs() == ["prod"]
    assert repo.backend.read("refs/prod").data == f"{second}\n".encode()  # type: ignore[union-attr]


def test_a_lost_compare_and_swap_says_re_plan_and_changes_nothing(repo: Repo) -> None:
    base, mine, theirs = (repo.put(f"commit {n}".encode()) for n in range(3))
    planned = repo.set_ref("prod", base, expected=Ref(None, None))
    repo.set_ref("prod", theirs, expected=planned)
    with pytest.raises(StalePlanError) as caught:
        repo.set_ref("prod", mine, expected=planned)
    assert caught.value.exit_code == ExitCode.INVALID
    assert "kite plan" in (caught.value.hint or "")
    assert theirs in caught.value.message
    assert repo.ref("prod").commit == theirs


def test_creating_a_ref_that_exists_loses(repo: Repo) -> None:
    one, two = repo.put(b"one"), repo.put(b"two")
    repo.set_ref("dev", one, expected=Ref(None, None))
    with pytest.raises(StalePlanError):
        repo.set_ref("dev", two, expected=Ref(None, None))
    assert repo.ref("dev").commit == one


def test_a_ref_cannot_point_at_a_missing_object(repo: Repo) -> None:
    with pytest.raises(ProjectError, match="no such object"):
        repo.set_ref("prod", digest_bytes(b"nothing"), expected=Ref(None, None))
    assert repo.ref("prod") == Ref(None, None)


def test_environment_names_cannot_escape_their_folder(repo: Repo) -> None:
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ProjectError, match="invalid environment name"):
            repo.ref(bad)


def test_the_lease_is_exclusive_and_names_its_holder(repo: Repo) -> None:
    lease = repo.acquire("prod", holder="alice", ttl=60)
    assert isinstance(lease, Lease)
    assert (lease.env, lease.holder, lease.pid) == ("prod", "alice", os.getpid())
    assert lease.expires > time.time() + 50
    with pytest.raises(LeaseBusy) as caught:
        repo.acquire("prod", holder="bob", ttl=60)
    assert caught.value.exit_code == ExitCode.BUSY
    text = caught.value.message
    assert "alice" in text
    assert lease.host in text
    assert f"pid {os.getpid()}" in text
    assert "expires" in text
    assert repo.acquire("staging", holder="bob", ttl=60).holder == "bob"
    assert repo.lease_holder("prod") == lease


def test_a_released_lease_can_be_taken_again(repo: Repo) -> None:
    repo.release(repo.acquire("prod", holder="alice", ttl=60))
    assert repo.lease_holder("prod") is None
    assert repo.acquire("prod", holder="bob", ttl=60).holder == "bob"


def test_an_expired_lease_is_taken_over_and_the_old_holder_notices(repo: Repo) -> None:
    old = repo.acquire("prod", holder="alice", ttl=0.3)
    time.sleep(0.4)
    new = repo.acquire("prod", holder="bob", ttl=60)
    assert new.holder == "bob"
    with pytest.raises(LeaseBusy, match="bob"):
        repo.renew(old, ttl=60)
    repo.release(old)  # must not release bob's lease
    assert repo.lease_holder("prod") == new


def test_renew_extends_a_held_lease(repo: Repo) -> None:
    lease = repo.acquire("prod", holder="alice", ttl=0.5)
    renewed = repo.renew(lease, ttl=60)
    assert renewed.expires > lease.expires
    assert renewed.token != lease.token
    time.sleep(0.6)
    with pytest.raises(LeaseBusy):
        repo.acquire("prod", holder="bob", ttl=60)
    with pytest.raises(LeaseBusy):  # the old version of the lease lost
        repo.renew(lease, ttl=60)


def test_renewing_a_lease_that_was_taken_over_and_released_is_stale(repo: Repo) -> None:
    old = repo.acquire("prod", holder="alice", ttl=0.2)
    time.sleep(0.3)
    repo.release(repo.acquire("prod", holder="bob", ttl=60))
    with pytest.raises(StalePlanError, match="taken over"):
        repo.renew(old, ttl=60)


def test_only_one_of_many_racing_appliers_takes_an_expired_lease(store_url: str) -> None:
    open_repo(store_url).acquire("prod", holder="gone", ttl=0.1)
    time.sleep(0.2)
    winners: list[Lease] = []
    busy: list[LeaseBusy] = []
    start = threading.Barrier(6)

    def contend(n: int) -> None:
        repo = open_repo(store_url)
        start.wait()
        try:
            winners.append(repo.acquire("prod", holder=f"w{n}", ttl=60))
        except LeaseBusy as exc:
            busy.append(exc)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert len(busy) == 5
    assert open_repo(store_url).lease_holder("prod") == winners[0]


def test_named_entries_are_create_only(repo: Repo) -> None:
    assert repo.put_named("runcache/fp1", b"first") is True
    assert repo.put_named("runcache/fp1", b"second") is False
    assert repo.get_named("runcache/fp1") == b"first"
    assert repo.get_named("runcache/none") is None
    repo.put_named("runs/prod/002", b"b")
    repo.put_named("runs/prod/001", b"a")
    repo.put_named("runs/staging/001", b"c")
    repo.put_named("runsx/001", b"d")
    assert repo.list_named("runs/prod") == ["runs/prod/001", "runs/prod/002"]
    assert repo.list_named("runs/") == ["runs/prod/001", "runs/prod/002", "runs/staging/001"]
    assert repo.list_named("nothing") == []


@pytest.mark.parametrize("path", ["../escape", "/abs", "a//b", "refs/prod", "objects/ab/cd"])
def test_named_entries_stay_out_of_reserved_and_outside_paths(repo: Repo, path: str) -> None:
    with pytest.raises(ProjectError):
        repo.put_named(path, b"x")


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_a_missing_bucket_is_a_store_error_not_an_empty_repo(
    kind: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue(f"{kind}_bucket")  # the server runs; this bucket does not exist
    scheme = "s3" if kind == "s3" else "gs"
    for call in (
        lambda repo: repo.ref("prod"),
        lambda repo: repo.list_named("runs"),
        lambda repo: repo.get_named("runcache/x"),
        lambda repo: repo.put(b"x"),
    ):
        with pytest.raises(StoreError) as caught:
            call(open_repo(f"{scheme}://no-such-bucket/meta"))
        assert caught.value.exit_code == ExitCode.UNREACHABLE
        assert "no-such-bucket" in caught.value.message
