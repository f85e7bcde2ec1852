"""`--if-busy wait|skip|fail` through the `kite` command: two applies of one environment at
once, and a lease left by a killed apply."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from kitecli.errors import LeaseBusy
from kitecli.store.ifbusy import take
from tests import helpers
from tests.e2e import calls, make_project
from tests.helpers import Running, kite

LEASE = Path("meta/leases/dev")


def start(root: Path, *args: str, env: dict[str, str]) -> Running:
    """`kite apply ARGS` in the background."""
    return helpers.start("apply", *args, cwd=root, env=env)


def wait_for(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def lease_record(root: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads((root / LEASE).read_text()))
    except (FileNotFoundError, ValueError):
        return None


def holding(root: Path) -> bool:
    """True once some apply holds the lease and its first command has started."""
    record = lease_record(root)
    started = (root / "calls.log").exists()
    return record is not None and not record["released"] and started


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    log = make_project(tmp_path)
    return tmp_path, {"CALLS_LOG": str(log)}


@pytest.mark.parametrize(("policy", "code"), [("skip", 0), ("fail", 5)])
def test_second_apply_skips_or_fails_while_the_first_runs(
    project: tuple[Path, dict[str, str]], policy: str, code: int
) -> None:
    root, env = project
    first = start(root, "--if-busy", policy, "-j", "1", env={**env, "STEP_SLEEP": "1"})
    try:
        wait_for(lambda: holding(root), "the first apply to hold the lease")
        second = kite("apply", "--if-busy", policy, cwd=root, env=env)
        assert second.code == code, second.stderr
        done = first.result()
        assert done.code == 0, done.stderr
    finally:
        first.stop()
    if policy == "skip":
        assert "skipped (--if-busy skip): another run holds the lease" in second.stderr
    else:
        assert second.stderr.startswith("error: environment 'dev' is being applied by ")
    assert "(pid " in second.stderr
    ran = calls(root / "calls.log")
    assert len([line for line in ran if line.startswith("clean ")]) == 3  # the first ran alone
    assert lease_record(root) is not None
    assert lease_record(root)["released"] is True  # type: ignore[index]


def test_second_apply_waits_then_finds_nothing_to_do(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    first = start(root, "-j", "1", env={**env, "STEP_SLEEP": "0.5"})
    try:
        wait_for(lambda: holding(root), "the first apply to hold the lease")
        second = kite("apply", cwd=root, env=env)  # --if-busy wait is the default
        assert first.result().code == 0
    finally:
        first.stop()
    assert second.code == 0, second.stderr
    assert "waiting for the lease (--if-busy wait): environment 'dev'" in second.stderr
    assert "No changes" in second.stderr
    assert len(calls(root / "calls.log")) == 3 + 3 + 1


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def test_a_killed_applys_lease_is_taken_over_after_it_expires(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    short = {**env, "KITE_LEASE_TTL": "3"}
    first = start(root, "-j", "1", env={**short, "STEP_SLEEP": "60"})
    try:
        wait_for(lambda: holding(root), "the first apply to hold the lease")
        orphans = children(first.pid)
        first.signal(signal.SIGKILL)
        first.result(timeout=30)
        for pid in orphans:  # the step it started runs in a session of its own
            os.killpg(pid, signal.SIGKILL)
    finally:
        first.stop()
    left = lease_record(root)
    assert left is not None
    assert left["released"] is False  # nobody released it: it must expire
    calls(root / "calls.log")
    second = kite("apply", "--if-busy", "wait", cwd=root, env=short)
    assert second.code == 0, second.stderr
    assert len([line for line in calls(root / "calls.log") if line.startswith("clean ")]) == 3
    assert (root / "data/total/all.txt").read_text() == "9\n"
    after = lease_record(root)
    assert after is not None
    assert after["holder"] != left["holder"]
    assert after["released"] is True


def test_wait_says_who_holds_the_lease_at_most_every_notice_period() -> None:
    """The waiting loop itself, on a fake clock: one message per period, not per try."""
    now = [0.0]
    tries = iter(range(100))
    said: list[str] = []

    def acquire() -> str:
        if next(tries) < 70:
            raise LeaseBusy("environment 'x' is being applied by r1")
        return "held"

    def sleep(seconds: float) -> None:
        now[0] += seconds

    held = take(
        acquire, if_busy="wait", say=said.append, poll=1.0, sleep=sleep, clock=lambda: now[0]
    )
    assert held == "held"
    waiting = [s for s in said if "waiting" in s]
    assert len(waiting) == 3  # at 0, 30 and 60 seconds of 70
    assert all("applied by r1" in s for s in waiting)
    assert said[-1] == "kite: the lease is free; starting"
