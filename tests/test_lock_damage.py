"""A damaged kite.lock (not YAML, not the mapping apply writes, a folder): `kite fsck` says
so and `kite apply` refuses before it runs anything, both without a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import calls, make_project
from tests.helpers import kite

DAMAGE = {
    "not-yaml": "environments: {dev: [\n",
    "a-list": "- a\n- b\n",
    "stages-a-list": "kite_lock: 1\nenvironments: {dev: {stages: [a, b]}}\n",
    "folder": None,
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_lock_is_reported_and_refused(tmp_path: Path, damage: str) -> None:
    log = make_project(tmp_path, days=("2024-01-01",))
    env = {"CALLS_LOG": str(log)}
    assert kite("apply", cwd=tmp_path, env=env).code == 0
    lock = tmp_path / "kite.lock"
    lock.unlink()
    text = DAMAGE[damage]
    if text is None:
        lock.mkdir()
    else:
        lock.write_text(text)
    (tmp_path / "data/raw/2024-01-02.csv").write_text("day,2024-01-02\n")  # work to do
    calls(log)

    checked = kite("fsck", cwd=tmp_path)
    assert checked.code != 0
    assert "lock: kite.lock" in checked.stdout + checked.stderr
    applied = kite("apply", cwd=tmp_path, env=env)
    assert applied.code == 3, applied.stderr
    assert applied.stderr.startswith("error: kite.lock"), applied.stderr
    assert "delete it" in applied.stderr
    for result in (checked, applied):
        assert "Traceback" not in result.stderr
        assert "internal error" not in result.stderr
    assert calls(log) == []  # nothing ran

    shutil.rmtree(lock) if lock.is_dir() else lock.unlink()  # the fix the hint gives
    assert kite("apply", cwd=tmp_path, env=env).code == 0
    assert kite("fsck", cwd=tmp_path).stdout.strip() == "dev: ok"


def test_a_lost_ref_is_reported_and_no_new_history_starts(tmp_path: Path) -> None:
    log = make_project(tmp_path, days=("2024-01-01",))
    env = {"CALLS_LOG": str(log)}
    assert kite("apply", cwd=tmp_path, env=env).code == 0
    calls(log)
    (tmp_path / "meta/refs/dev").unlink()
    for args in (("log",), ("plan",), ("apply",)):
        said = kite(*args, cwd=tmp_path, env=env)
        assert said.code == 3, (args, said.stderr)
        assert "holds no history of environment 'dev'" in said.stderr
        assert "kite.lock names its commit" in said.stderr
        assert "Traceback" not in said.stderr
    assert calls(log) == []
    assert not (tmp_path / "meta/refs/dev").exists()  # nothing started a new history
    checked = kite("fsck", cwd=tmp_path)
    assert checked.code != 0
    assert "its ref is gone" in checked.stdout + checked.stderr
