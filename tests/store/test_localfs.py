"""Local-disk specifics: lock files left by a killed process, and half-written files."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kitecli.errors import StoreError
from kitecli.store import localfs, open_repo
from kitecli.store.repo import Ref


def test_a_lock_file_left_by_a_killed_process_is_broken(tmp_path: Path) -> None:
    repo = open_repo(str(tmp_path))
    first, second = repo.put(b"1"), repo.put(b"2")
    ref = repo.set_ref("prod", first, expected=Ref(None, None))
    lock = tmp_path / "refs" / f"prod{localfs.LOCK_MARK}"
    lock.write_text("12345\n")
    old = time.time() - localfs.STALE_LOCK - 5
    os.utime(lock, (old, old))
    assert repo.set_ref("prod", second, expected=ref).commit == second
    assert not lock.exists()


def test_a_live_lock_file_makes_a_swap_wait_then_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localfs, "LOCK_WAIT", 0.2)
    repo = open_repo(str(tmp_path))
    ref = repo.set_ref("prod", repo.put(b"1"), expected=Ref(None, None))
    (tmp_path / "refs" / f"prod{localfs.LOCK_MARK}").write_text("12345\n")
    with pytest.raises(StoreError, match="locked"):
        repo.set_ref("prod", repo.put(b"2"), expected=ref)
    assert repo.ref("prod") == ref


def test_temporary_files_are_invisible_and_cleaned_up(tmp_path: Path) -> None:
    repo = open_repo(str(tmp_path))
    repo.put_named("runs/prod/1", b"x")
    (tmp_path / "runs" / "prod" / f"{localfs.TMP_MARK}999-abc").write_bytes(b"half")
    assert repo.list_named("runs") == ["runs/prod/1"]
    repo.put(b"y")
    assert not [
        p for p in tmp_path.rglob("*") if localfs.TMP_MARK in p.name and "999" not in p.name
    ]


def test_a_lock_left_by_a_dead_process_is_broken_at_once(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = tmp_path / "ref.kite-lock"
    lock.write_text(f"{dead.pid} {socket.gethostname()}\n")  # as a killed holder leaves it
    started = time.monotonic()
    with localfs._locked(str(lock)):
        held = lock.read_text().split()
    assert held[0] == str(os.getpid())
    assert time.monotonic() - started < 2.0
    assert not lock.exists()


def test_a_lock_of_a_live_process_is_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(localfs, "LOCK_WAIT", 0.3)
    lock = tmp_path / "ref.kite-lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # alive: this very process
    with pytest.raises(StoreError), localfs._locked(str(lock)):
        pass
    assert lock.exists()
