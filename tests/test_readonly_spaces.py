"""A namespace of read-only views is kept for the next attempts that read the same folders
(kitecli/executors/readonly.py), and made anew when a folder was replaced under its path:
a command never reads a folder that is no longer the data's, nor writes to one."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from kitecli.executors import readonly


def attempt(data: Path, work: Path, script: str) -> tuple[int, str]:
    """`script` (in `work`) with a view of `data/f` read-only, as an attempt starts it."""
    view = work / "in"
    view.mkdir(parents=True, exist_ok=True)
    link = view / "f"
    if not link.is_symlink():
        link.symlink_to(data / "f")
    process = readonly.start(
        [str(view)],
        str(work),
        lambda: subprocess.Popen(
            ["sh", "-c", script], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ),
    )
    out, _ = process.communicate(timeout=30)
    return process.returncode, out.decode()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "f").write_text("old\n")
    if os.geteuid() != 0:
        pytest.skip("read-only views need root (or CAP_SYS_ADMIN)")
    return folder


def spaces() -> set[int]:
    return {t.ident or 0 for t in threading.enumerate() if t.name == "kite-readonly-views"}


def test_the_next_attempt_on_the_same_folders_reuses_the_namespace(
    data: Path, tmp_path: Path
) -> None:
    code, out = attempt(data, tmp_path / "w1", f"cat in/f; echo x > {data}/new")
    assert code != 0, out
    assert out.startswith("old\n"), out
    assert "Read-only file system" in out, out
    before = spaces()
    code, out = attempt(data, tmp_path / "w2", f"cat in/f; echo x > {data}/new")
    assert code != 0, out
    assert "Read-only file system" in out, out
    assert spaces() == before  # no new thread: the same namespace served it
    assert not (data / "new").exists()
    code, out = attempt(data, tmp_path / "w2", "echo ok > mine && cat mine")
    assert (code, out) == (0, "ok\n")  # the working folder stays writable


def test_a_folder_replaced_under_its_path_gets_a_namespace_of_its_own(
    data: Path, tmp_path: Path
) -> None:
    assert attempt(data, tmp_path / "w", "cat in/f")[1] == "old\n"
    data.rename(tmp_path / "data.before")
    data.mkdir()
    (data / "f").write_text("new\n")
    code, out = attempt(data, tmp_path / "w", f"cat in/f; echo x > {data}/added")
    assert out.startswith("new\n"), out  # not the old folder, which a stale mount would show
    assert code != 0, out
    assert "Read-only file system" in out, out
    assert sorted(p.name for p in data.iterdir()) == ["f"]


def test_a_namespace_closed_under_a_start_is_not_waited_on(data: Path, tmp_path: Path) -> None:
    """Another thread closed it (the folder was replaced, or it was the oldest of many)
    between finding it and starting on it: the start says so at once and is not lost."""
    work = tmp_path / "w"
    assert attempt(data, work, "cat in/f")[1] == "old\n"
    space = readonly._spaces.get(readonly.sources([str(work / "in")], str(work)), str(work))
    space.close()
    with pytest.raises(readonly.Closed):
        space.start(lambda: None)
    code, out = attempt(data, work, f"cat in/f; echo x > {data}/new")  # a namespace made anew
    assert out.startswith("old\n"), out
    assert "Read-only file system" in out, out
    assert code != 0
