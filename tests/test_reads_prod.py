"""`reads: prod` through the `kite` command: a test environment runs a changed stage against
production's data, reuses what production computed, and leaves production untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.envs_project import USER, calls, make_project, tree_digest, write_pipeline
from tests.helpers import kite


def prod_snapshot(root: Path, env: dict[str, str], *, shared: bool) -> dict[str, Any]:
    """Everything of prod that must not change: data, ref, lock section, history."""
    meta = root / ("meta" if shared else "meta/prod")
    lock = YAML(typ="safe").load((root / "kite.lock").read_text())
    history = kite("log", "--env", "prod", "--json", cwd=root, env=env)
    assert history.code == 0, history.stderr
    shown = kite("show", "last", "--env", "prod", "--json", cwd=root, env=env)
    return {
        "data": tree_digest(root / "prod"),
        "ref": (meta / "refs" / "prod").read_bytes(),
        "lock": lock["environments"]["prod"],
        "log": history.stdout,
        "show": shown.stdout,
        "repo": None if shared else tree_digest(meta),
    }


def by_stage(lines: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in lines:
        env, stage, files = line.split(" ", 2)
        found.setdefault(f"{env} {stage}", []).append(files)
    return {k: sorted(v) for k, v in found.items()}


@pytest.mark.parametrize("shared", [False, True], ids=["own-metadata", "shared-metadata"])
def test_changed_stage_in_test_runs_only_what_prod_has_not_computed(
    tmp_path: Path, shared: bool
) -> None:
    env = make_project(tmp_path, shared_metadata=shared)
    assert kite("apply", "--env", "prod", "--yes", cwd=tmp_path, env=env).code == 0
    assert len(calls(tmp_path)) == 3 + 3 + 1
    before = prod_snapshot(tmp_path, env, shared=shared)
    # the change under test: `clean` now marks the output of 2024-01-02 only
    write_pipeline(tmp_path, shared_metadata=shared, mark="2024-01-02.csv")

    applied = kite(
        "apply", "--env", "test", "--stage", "clean", "--downstream", cwd=tmp_path, env=env
    )
    assert applied.code == 0, applied.stderr
    ran = by_stage(calls(tmp_path))
    # clean changed: every datum is new to prod; size and total: only what prod has not seen
    assert ran == {
        "test clean": ["2024-01-01.csv", "2024-01-02.csv", "2024-01-03.csv"],
        "test size": ["2024-01-02.csv"],
        "test total": ["2024-01-01.txt,2024-01-02.txt,2024-01-03.txt"],
    }
    test_root = tmp_path / "test" / USER
    assert (test_root / "clean/2024-01-02.csv").read_text() == "DAY,2024-01-02\n!"
    assert (test_root / "size/2024-01-01.txt").read_text() == "15\n"  # from prod's run cache
    assert (test_root / "size/2024-01-02.txt").read_text() == "16\n"  # run here
    assert (test_root / "total/all.txt").read_text() == "9\n"
    assert not (test_root / "raw").exists()  # read from prod, not copied
    assert prod_snapshot(tmp_path, env, shared=shared) == before

    again = kite(
        "apply", "--env", "test", "--stage", "clean", "--downstream", cwd=tmp_path, env=env
    )
    assert again.code == 0, again.stderr
    assert calls(tmp_path) == []
    assert prod_snapshot(tmp_path, env, shared=shared) == before


@pytest.mark.parametrize("shared_cache", [True, False], ids=["shared-cache", "own-cache"])
def test_unselected_upstream_is_read_from_prod_and_cached_results_reused(
    tmp_path: Path, shared_cache: bool
) -> None:
    env = make_project(tmp_path, shared_cache=shared_cache)
    assert kite("apply", "--env", "prod", "--yes", cwd=tmp_path, env=env).code == 0
    calls(tmp_path)
    prod_cache = tree_digest(tmp_path / "cache")
    before = prod_snapshot(tmp_path, env, shared=False)
    planned = kite("plan", "--env", "test", "--stage", "size", cwd=tmp_path, env=env)
    assert planned.code == 0, planned.stderr
    assert "3 from cache" in planned.stdout, planned.stdout
    applied = kite("apply", "--env", "test", "--stage", "size", cwd=tmp_path, env=env)
    assert applied.code == 0, applied.stderr
    assert calls(tmp_path) == []  # prod computed every one of them: nothing runs
    test_root = tmp_path / "test" / USER
    assert sorted(p.name for p in (test_root / "size").iterdir()) == [
        "2024-01-01.txt",
        "2024-01-02.txt",
        "2024-01-03.txt",
    ]
    assert not (test_root / "clean").exists()
    assert prod_snapshot(tmp_path, env, shared=False) == before
    if not shared_cache:  # the blobs were copied from prod's CAS into test's, prod's untouched
        assert len(list((tmp_path / "cache-test").rglob("*"))) > 0
        assert tree_digest(tmp_path / "cache") == prod_cache


def test_a_new_prod_input_reaches_test_through_the_view(tmp_path: Path) -> None:
    env = make_project(tmp_path)
    assert kite("apply", "--env", "prod", "--yes", cwd=tmp_path, env=env).code == 0
    calls(tmp_path)
    assert kite("apply", "--env", "test", cwd=tmp_path, env=env).code == 0
    assert calls(tmp_path) == []  # the whole pipeline in test: all from prod's run cache
    (tmp_path / "prod/raw/2024-01-04.csv").write_text("day,2024-01-04\n")
    before = tree_digest(tmp_path / "prod")
    assert kite("apply", "--env", "test", cwd=tmp_path, env=env).code == 0
    ran = by_stage(calls(tmp_path))
    assert ran["test clean"] == ["2024-01-04.csv"]
    assert ran["test size"] == ["2024-01-04.csv"]
    assert (tmp_path / "test" / USER / "total/all.txt").read_text() == "12\n"
    assert tree_digest(tmp_path / "prod") == before
    assert not (tmp_path / "prod/clean/2024-01-04.csv").exists()
