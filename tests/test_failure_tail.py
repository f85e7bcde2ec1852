"""On a terminal, the last lines a failed command printed are dimmed under its failure,
and kite's own lines (the `kite logs` command) are not; without a terminal, no escapes."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e import make_project

DIM = "\033[2m"


def _on_a_terminal(root: Path, env: dict[str, str]) -> str:
    """What `kite apply` writes to stderr when stderr is a terminal (a pseudo-terminal)."""
    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kitecli", "apply", "-j", "1"],
        cwd=root,
        env={**environ, "TERM": "xterm", **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    said, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the terminal closed: kite ended
                break
            if not chunk:
                break
            said += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    assert process.wait(timeout=60) == 1
    return said.decode(errors="replace")


def test_a_failed_commands_last_lines_are_dimmed_on_a_terminal(tmp_path: Path) -> None:
    calls = make_project(tmp_path, days=("2024-01-02",))
    said = _on_a_terminal(tmp_path, {"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"})
    assert f"{DIM}    clean processing 2024-01-02.csv\033[0m" in said, said
    logs = next(line for line in said.splitlines() if "(all of it: kite logs" in line)
    assert DIM not in logs


def test_no_escapes_without_a_terminal(tmp_path: Path, run_kite) -> None:
    calls = make_project(tmp_path, days=("2024-01-02",))
    failed = run_kite("apply", env={"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"})
    assert failed.code == 1
    assert "    clean processing 2024-01-02.csv\n" in failed.stderr
    assert "\033[" not in failed.stderr
