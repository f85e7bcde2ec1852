"""Captures (kitecli/executors/capture.py): one reader thread for every running command."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from kitecli.executors import capture
from kitecli.executors.capture import Capture


def run(argv: list[str], **kw: object) -> bytes:
    taken = Capture(**kw)  # type: ignore[arg-type]
    process = subprocess.Popen(argv, stdout=taken.fd, stderr=subprocess.STDOUT)
    taken.started()
    process.wait()
    return taken.text()


def test_many_commands_at_once_each_get_their_own_output_whole() -> None:
    found: dict[int, bytes] = {}

    def one(n: int) -> None:
        found[n] = run(["sh", "-c", f"for i in 1 2 3; do echo {n}-$i; done; echo {n} >&2"])

    threads = [threading.Thread(target=one, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert found == {n: f"{n}-1\n{n}-2\n{n}-3\n{n}\n".encode() for n in range(24)}
    assert sum(1 for t in threading.enumerate() if t.name == "kite-log") == 1  # one reader


def test_a_child_that_keeps_the_pipe_does_not_hold_the_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capture, "DRAIN", 0.5)  # the module's bound, shortened for the test
    began = time.monotonic()
    text = run(["sh", "-c", "echo first; sleep 30 & echo second"])
    assert text == b"first\nsecond\n"
    assert time.monotonic() - began < 5


def test_the_end_of_a_long_output_is_kept_within_the_bound() -> None:
    text = run(["sh", "-c", "seq 1 200000"], max_bytes=64 * 1024)
    assert text.startswith(b"[kite] log truncated: the first ")
    assert text.endswith(b"\n199999\n200000\n")
    assert len(text) < 64 * 1024 + capture.CHUNK + 200  # a read may pass the half it ends
