"""Write isolation through the `kite` command: protected environments, writes aimed at
another environment's data root, data roots that overlap; and the guard on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitecli.env import guard
from kitecli.errors import WriteRefused
from kitecli.spec.loader import load
from kitecli.store import open_repo
from tests.envs_project import USER, calls, make_project, tree_digest
from tests.helpers import kite


def test_a_protected_environment_needs_yes(tmp_path: Path) -> None:
    env = make_project(tmp_path)
    refused = kite("apply", "--env", "prod", cwd=tmp_path, env=env)
    assert refused.code == 3, refused.stderr
    assert "environment 'prod' is protected: nothing was run" in refused.stderr
    assert "--yes" in refused.stderr
    assert calls(tmp_path) == []
    assert not (tmp_path / "prod/clean").exists()
    assert not (tmp_path / "meta/prod/refs/prod").exists()
    done = kite("apply", "--env", "prod", "--yes", cwd=tmp_path, env=env)
    assert done.code == 0, done.stderr
    assert len(calls(tmp_path)) == 3 + 3 + 1


def test_a_test_write_aimed_at_prod_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    env = make_project(tmp_path)
    assert kite("apply", "--env", "prod", "--yes", cwd=tmp_path, env=env).code == 0
    calls(tmp_path)
    # a link in the test data root that leads into production's data
    test_root = tmp_path / "test" / USER
    test_root.mkdir(parents=True)
    (test_root / "clean").symlink_to(tmp_path / "prod/clean", target_is_directory=True)
    before = tree_digest(tmp_path / "prod")
    meta_before = tree_digest(tmp_path / "meta")
    refused = kite("apply", "--env", "test", cwd=tmp_path, env=env)
    assert refused.code == 3, refused.stderr
    assert f"refusing to write into {test_root / 'clean'}" in refused.stderr
    assert f"inside the data root of environment 'prod' ({tmp_path / 'prod'})" in refused.stderr
    assert "this is environment 'test'" in refused.stderr
    assert calls(tmp_path) == []
    assert tree_digest(tmp_path / "prod") == before
    assert tree_digest(tmp_path / "meta") == meta_before  # no lease, ref or object written


@pytest.mark.parametrize("test_data", ["./prod", "./prod/test-{user}", "./"])
def test_overlapping_data_roots_are_refused_before_any_apply(
    tmp_path: Path, test_data: str
) -> None:
    env = make_project(tmp_path, test_data=test_data)
    before = tree_digest(tmp_path / "prod")
    refused = kite("apply", "--env", "test", cwd=tmp_path, env=env)
    assert refused.code == 3, refused.stderr
    assert "the data root of environment 'prod'" in refused.stderr
    assert calls(tmp_path) == []
    assert tree_digest(tmp_path / "prod") == before
    assert not (tmp_path / "meta").exists()
    assert kite("validate", cwd=tmp_path, env=env).code == 3


def test_user_in_a_data_root_cannot_reach_prod(tmp_path: Path) -> None:
    env = make_project(tmp_path, test_data="./test/{user}")
    refused = kite("apply", "--env", "test", cwd=tmp_path, env={**env, "KITE_USER": "../prod"})
    assert refused.code == 3, refused.stderr
    assert "is also the data root of environment 'prod'" in refused.stderr
    assert calls(tmp_path) == []


@pytest.fixture
def fence(tmp_path: Path) -> guard.Guard:
    make_project(tmp_path)
    pipeline = load(tmp_path / "pipeline.yaml", user=USER)
    return guard.of(pipeline, pipeline.environments["test"])


def test_guard_allows_own_roots_only(fence: guard.Guard, tmp_path: Path) -> None:
    mine = tmp_path / "test" / USER / "clean" / "a.csv"
    assert fence.check(mine, doing="materialise") == str(mine)
    fence.check(tmp_path / "cache" / "ab" / "cdef", doing="store a blob at")
    fence.check(tmp_path / ".kite" / "tmp" / "run" / "x", doing="prepare")
    fence.check(tmp_path / "kite.lock", doing="rewrite")
    with pytest.raises(WriteRefused, match="inside the data root of environment 'prod'"):
        fence.check(tmp_path / "prod" / "clean" / "a.csv", doing="materialise")
    with pytest.raises(WriteRefused, match="outside the roots of environment 'test'"):
        fence.check(tmp_path / "step.py", doing="rewrite")
    with pytest.raises(WriteRefused, match="outside the roots"):
        fence.check(tmp_path / "test" / USER / ".." / ".." / "elsewhere", doing="write")


def test_guard_follows_links_in_folders_not_the_file_itself(
    fence: guard.Guard, tmp_path: Path
) -> None:
    folder = tmp_path / "test" / USER
    folder.mkdir(parents=True)
    (tmp_path / "prod").mkdir(exist_ok=True)
    (folder / "into-prod").symlink_to(tmp_path / "prod", target_is_directory=True)
    with pytest.raises(WriteRefused, match="environment 'prod'"):
        fence.check(folder / "into-prod" / "x.csv", doing="materialise")
    link = folder / "x.csv"
    link.symlink_to(tmp_path / "prod" / "x.csv")
    fence.check(link, doing="remove")  # unlinking the link itself stays in the test root
    with pytest.raises(WriteRefused, match="environment 'prod'"):
        fence.check(link, doing="write into", follow=True)


def test_guarded_repo_moves_only_its_own_ref_and_lease(tmp_path: Path) -> None:
    inner = open_repo(str(tmp_path / "meta"))
    commit = inner.put(b"a commit")
    repo = guard.GuardedRepo(inner, "test")
    moved = repo.set_ref("test", commit, expected=inner.ref("test"))
    assert inner.ref("test") == moved
    assert moved.commit == commit
    with pytest.raises(WriteRefused, match="move the ref of environment 'prod'"):
        repo.set_ref("prod", commit, expected=inner.ref("prod"))
    with pytest.raises(WriteRefused, match="take the lease of environment 'prod'"):
        repo.acquire("prod", holder="run-1", ttl=30)
    assert inner.ref("prod").commit is None
    assert inner.lease_holder("prod") is None
    assert repo.acquire("test", holder="run-1", ttl=30).holder == "run-1"
