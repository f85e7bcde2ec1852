"""Retries with backoff, per-attempt timeouts and Ctrl-C, through the `kite` command."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

from tests.e2e import make_project
from tests.helpers import start


def _with(root: Path, stage_extra: str) -> None:
    """Add lines (e.g. retries:) to the `clean` stage of the e2e project."""
    pipeline = root / "pipeline.yaml"
    text = pipeline.read_text()
    marker = "    outputs: {clean: clean/}\n"
    pipeline.write_text(text.replace(marker, marker + stage_extra, 1))


def _attempts(run_kite, stage: str) -> list[dict]:
    shown = json.loads(run_kite("show", "last", "--json").stdout)
    return [a for a in shown["attempts"] if a["stage"] == stage]


def test_a_failed_attempt_is_retried_after_its_backoff(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path, days=("2024-01-01",))
    _with(tmp_path, "    retries: {limit: 2, backoff: 1s, factor: 2}\n")
    flaky = tmp_path / "flaky"
    # the step fails while the flag file exists; the first attempt removes it
    step = tmp_path / "step.py"
    step.write_text(
        "import os, sys\n"
        f"flag = {str(flaky)!r}\n"
        "if os.path.exists(flag):\n"
        "    os.unlink(flag)\n"
        "    sys.exit(3)\n" + step.read_text()
    )
    flaky.write_text("fail once")
    result = run_kite("apply", env={"CALLS_LOG": str(log)})
    assert result.code == 0, result.stderr
    attempts = _attempts(run_kite, "clean")
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in attempts] == [
        (1, "failed", 3),
        (2, "succeeded", 0),
    ]
    assert attempts[1]["started"] - attempts[0]["ended"] >= 1.0  # the backoff


def test_an_attempt_over_its_timeout_is_killed(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path, days=("2024-01-01",))
    _with(tmp_path, "    timeout: 1s\n")
    started = time.monotonic()
    result = run_kite("apply", env={"CALLS_LOG": str(log), "STEP_SLEEP": "30"})
    assert result.code == 1
    assert time.monotonic() - started < 25
    (attempt,) = _attempts(run_kite, "clean")
    assert attempt["reason"] == "timeout"
    assert attempt["exit_code"] is None
    assert not (tmp_path / "data/clean").exists()


def test_ctrl_c_commits_what_finished_and_exits_130(tmp_path: Path, run_kite) -> None:
    days = tuple(f"2024-03-{d:02d}" for d in range(1, 7))
    log = make_project(tmp_path, days=days)
    env = {"CALLS_LOG": str(log), "STEP_SLEEP": "1", "KITE_CHECKPOINT_SECONDS": "0"}
    proc = start("apply", "--parallel", "1", cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not (tmp_path / "data/clean").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.signal(signal.SIGINT)
    stopped = proc.result(timeout=60)
    assert stopped.code == 130, stopped.stderr
    runs = json.loads(run_kite("log", "--json").stdout)
    assert runs[0]["status"] == "interrupted"
    done = sorted(p.name for p in (tmp_path / "data/clean").iterdir())
    assert 1 <= len(done) < len(days)
    # one word for what Ctrl-C stopped, in progress, the log and show
    assert "failed" not in runs[0]["counts"], runs[0]["counts"]
    assert runs[0]["counts"]["cancelled"] == len(days) - len(done)
    assert "failed (cancelled)" not in stopped.stderr
    assert ": cancelled" in stopped.stderr
    shown = json.loads(run_kite("show", runs[0]["id"], "--json").stdout)
    assert all(a["status"] in ("succeeded", "cancelled") for a in shown["attempts"])
    again = run_kite("apply", env={"CALLS_LOG": str(log)})
    assert again.code == 0, again.stderr
    reran = [line for line in log.read_text().splitlines() if line.startswith("clean ")]
    # every day ran once, except the one in flight when interrupted (cancelled, run again)
    assert len(reran) <= len(days) + 1
    assert sorted(p.name for p in (tmp_path / "data/clean").iterdir()) == [f"{d}.csv" for d in days]


def test_a_failed_datum_shows_its_last_lines_and_how_to_see_the_rest(
    tmp_path: Path, run_kite
) -> None:
    log = make_project(tmp_path, days=("2024-03-01",))
    step = tmp_path / "step.py"
    lines = "".join(f"print('line {n}', file=sys.stderr)\n" for n in range(1, 9))
    step.write_text(step.read_text().replace("if mode ==", lines + "sys.exit(2)\nif mode ==", 1))
    failed = run_kite("apply", env={"CALLS_LOG": str(log)})
    assert failed.code == 1, failed.stderr
    said = failed.stdout + failed.stderr
    assert "    line 8" in said
    assert "    line 4" in said
    assert "line 3" not in said  # only the last five lines
    see = next(line for line in said.splitlines() if "(all of it: kite logs " in line)
    command = see.split("(all of it: kite ", 1)[1].rstrip(")").split()
    rest = run_kite(*[a.strip("'") for a in command])
    assert rest.code == 0, rest.stderr
    assert "line 1" in rest.stdout
    assert "line 8" in rest.stdout
    shown = run_kite("show", "last").stdout
    assert "      | line 8" in shown
    assert "line 3" not in shown


def test_logs_of_a_run_that_ran_nothing_says_so(tmp_path: Path, run_kite) -> None:
    log = make_project(tmp_path, days=("2024-03-01",))
    env = {"CALLS_LOG": str(log)}
    assert run_kite("apply", env=env).code == 0
    shutil.rmtree(tmp_path / "data/clean")
    assert run_kite("apply", env=env).code == 0  # restored from the store
    said = run_kite("logs", "last")
    assert said.code == 0
    assert said.stdout == ""
    assert "printed anything: 1 restored" in said.stderr
