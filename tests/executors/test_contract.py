"""The executor contract: what every executor does with a task attempt, whatever runs it."""

from __future__ import annotations

import time

from kitecli.executors.base import Outcome, Task
from tests.executors.rigs import Rig

SH = "sh"


def run(rig: Rig, task: Task) -> Outcome:
    return rig.executor.wait(rig.executor.submit(task))


def explained(outcome: Outcome) -> bool:
    """An attempt that did not end by itself says why, and the stored log ends saying it."""
    last = outcome.log.rstrip().splitlines()[-1]
    return bool(outcome.detail) and last == b"[kite] " + outcome.detail.encode()


def test_success_writes_outputs(executor: Rig) -> None:
    out = f"{executor.scratch}/{executor.run_id}/out"
    write = executor.task(
        [SH, "-c", 'mkdir -p "$KITE_OUTPUT_OUT" && echo hello > "$KITE_OUTPUT_OUT/a.txt"'],
        environ={"KITE_OUTPUT_OUT": out},
    )
    outcome = run(executor, write)
    assert outcome.ok, outcome.log
    assert outcome.exit_code == 0
    assert outcome.reason is None
    assert outcome.started <= outcome.ended
    assert outcome.where
    assert outcome.node
    read = executor.task([SH, "-c", f'cat "{out}/a.txt"'], key={"day": "2024-01-02"})
    assert run(executor, read).log.strip() == b"hello"  # the next task sees the output
    if executor.local_scratch is not None:
        local = executor.local_scratch / executor.run_id / "out" / "a.txt"
        assert local.read_text() == "hello\n"


def test_nonzero_exit(executor: Rig) -> None:
    outcome = run(executor, executor.task([SH, "-c", "echo oops >&2; exit 3"]))
    assert not outcome.ok
    assert outcome.exit_code == 3
    assert outcome.reason is None
    assert outcome.retryable  # the runner's retry policy decides
    assert b"oops" in outcome.log


def test_log_captures_stdout_and_stderr_in_order(executor: Rig) -> None:
    script = "echo one; echo two >&2; echo three"
    outcome = run(executor, executor.task([SH, "-c", script]))
    assert outcome.ok
    assert outcome.log.split() == [b"one", b"two", b"three"]


def test_environ_is_passed(executor: Rig) -> None:
    task = executor.task(
        [SH, "-c", 'echo "$KITE_DATUM_DAY|$GREETING|$KITE_ENV"'],
        environ={"KITE_DATUM_DAY": "2024-01-01", "GREETING": "hello world"},
    )
    outcome = run(executor, task)
    assert outcome.log.strip() == f"2024-01-01|hello world|{executor.env.name}".encode()


def test_argv_is_not_split_by_a_shell(executor: Rig) -> None:
    task = executor.task([SH, "-c", 'printf "%s\\n" "$0" "$1"', "a b", "$HOME;x"])
    assert run(executor, task).log.splitlines() == [b"a b", b"$HOME;x"]


def test_timeout(executor: Rig) -> None:
    began = time.monotonic()
    outcome = run(executor, executor.task([SH, "-c", "echo started; sleep 60"], timeout=1))
    assert time.monotonic() - began < 30
    assert not outcome.ok
    assert outcome.exit_code is None
    assert outcome.reason == "timeout"
    assert outcome.retryable
    assert b"started" in outcome.log
    assert explained(outcome)


def test_cancel(executor: Rig) -> None:
    handle = executor.executor.submit(executor.task([SH, "-c", "echo started; sleep 60"]))
    time.sleep(1.0)
    began = time.monotonic()
    executor.executor.cancel(handle)
    outcome = executor.executor.wait(handle)
    assert time.monotonic() - began < 20
    assert outcome.exit_code is None
    assert outcome.reason == "cancelled"
    assert not outcome.retryable
    assert explained(outcome)


def test_cancel_after_the_end_changes_nothing(executor: Rig) -> None:
    handle = executor.executor.submit(executor.task([SH, "-c", "exit 0"]))
    outcome = executor.executor.wait(handle)
    executor.executor.cancel(handle)
    assert outcome.ok


def test_missing_command_fails(executor: Rig) -> None:
    outcome = run(executor, executor.task(["kite-no-such-command-anywhere"]))
    assert not outcome.ok
    assert outcome.exit_code != 0
    assert b"kite-no-such-command-anywhere" in outcome.log  # the log says what failed


def test_each_attempt_runs_anew(executor: Rig) -> None:
    """Attempt 2 of the same datum is a new run, not the result of attempt 1."""
    counter = f"{executor.scratch}/{executor.run_id}-count"
    script = f'echo x >> "{counter}"; wc -l < "{counter}"'
    fingerprint = "b3:" + "ab" * 32
    first = run(executor, executor.task([SH, "-c", script], fingerprint=fingerprint))
    second = run(executor, executor.task([SH, "-c", script], fingerprint=fingerprint, attempt=2))
    assert first.log.strip() == b"1"
    assert second.log.strip() == b"2"


def test_tasks_run_concurrently_from_several_threads(executor: Rig) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tasks = [
        executor.task([SH, "-c", f"sleep 0.5; echo {i}"], key={"day": f"2024-01-0{i}"})
        for i in range(1, 5)
    ]
    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda t: run(executor, t), tasks))
    assert [o.log.strip() for o in outcomes] == [b"1", b"2", b"3", b"4"]
    assert time.monotonic() - began < 4 * 0.5 + 10
