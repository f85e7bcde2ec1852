"""`kite watch`: a new file in the input folder reaches the last stage in seconds, one run
record per round; SIGTERM stops it cleanly (between rounds: exit 0; during one: the run is
recorded as interrupted, exit 130); a broken pipeline.yaml is reported, not fatal."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests import helpers
from tests.e2e import DataDir, Site
from tests.helpers import write

PIPELINE = """\
kite: 1
name: watched
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  clean:
    inputs:
      raw: {path: raw/, each: "{id}.txt"}
    command: >-
      sh -c 'SLOW; tr a-z A-Z < {{ inputs.raw }}/{{ datum.id }}.txt
      > {{ outputs.out }}/{{ datum.id }}.txt'
    outputs: {out: clean/}
  all:
    inputs: {clean: clean/}
    command: [sh, -c, 'cat {{ inputs.clean }}/* > {{ outputs.out }}/all.txt']
    outputs: {out: all/}
"""


def project(root: Path, slow: str = "true") -> None:
    write(root, {"pipeline.yaml": PIPELINE.replace("SLOW", slow), "data/raw/a.txt": "a\n"})


def until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Seconds until `check()` held; fails the test after `seconds`."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < seconds, f"no {what} after {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - began


def text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_a_new_file_reaches_the_last_stage_and_sigterm_stops_it(tmp_path: Path) -> None:
    project(tmp_path)
    watching = helpers.start("watch", "--debounce", "0.3s", cwd=tmp_path, fresh=True)
    try:
        until(lambda: text(tmp_path / "data/all/all.txt") == "A\n", 60, "first round")
        until(lambda: "Run " in watching.stderr(), 10, "first run's summary")
        write(tmp_path, {"data/raw/b.txt": "b\n"})
        took = until(lambda: text(tmp_path / "data/all/all.txt") == "A\nB\n", 30, "second round")
        assert took < 15
        until(lambda: watching.stderr().count("Run ") == 2, 10, "second run's summary")
        watching.signal(signal.SIGTERM)
        result = watching.result(30)
    finally:
        watching.stop()
    assert result.code == 0, result.stderr
    assert "kite watch: SIGTERM: stopping" in result.stderr
    assert "Traceback" not in result.stderr
    log = helpers.kite("log", cwd=tmp_path)
    assert log.stdout.count("succeeded") >= 2, log.stdout
    assert len(log.stdout.strip().splitlines()) == 2  # one run record per round
    # nothing half-written: the lease is free and nothing is left to do
    assert helpers.kite("apply", "--if-busy", "fail", cwd=tmp_path).code == 0
    assert helpers.kite("plan", "--detailed-exitcode", cwd=tmp_path).code == 0


def test_a_file_that_lands_while_a_round_runs_starts_the_next_round(tmp_path: Path) -> None:
    project(tmp_path, slow="sleep 2")
    watching = helpers.start("watch", "--debounce", "0.3s", cwd=tmp_path, fresh=True)
    try:
        until(lambda: "clean: 1 to do" in watching.stderr(), 60, "first round")
        write(tmp_path, {"data/raw/b.txt": "b\n"})  # after the round's scan, before its end
        until(lambda: text(tmp_path / "data/all/all.txt") == "A\nB\n", 60, "second round")
        watching.signal(signal.SIGTERM)
        result = watching.result(30)
    finally:
        watching.stop()
    assert result.code in (0, 130), result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_during_a_round_records_it_interrupted(tmp_path: Path) -> None:
    project(tmp_path, slow="sleep 30")
    watching = helpers.start("watch", cwd=tmp_path, fresh=True)
    try:
        until(lambda: "clean: 1 to do" in watching.stderr(), 60, "round")
        time.sleep(0.5)
        began = time.monotonic()
        watching.signal(signal.SIGTERM)
        result = watching.result(30)
    finally:
        watching.stop()
    assert time.monotonic() - began < 15
    assert result.code == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert "interrupted" in helpers.kite("log", cwd=tmp_path).stdout
    assert text(tmp_path / "data/raw/a.txt") == "a\n"
    assert helpers.kite("apply", "--if-busy", "fail", cwd=tmp_path).code == 0  # lease free


def test_a_broken_pipeline_is_reported_and_the_watch_goes_on(tmp_path: Path) -> None:
    project(tmp_path)
    watching = helpers.start("watch", "--debounce", "0.3s", cwd=tmp_path, fresh=True)
    try:
        until(lambda: "Run " in watching.stderr(), 60, "first round")
        write(tmp_path, {"pipeline.yaml": PIPELINE.replace("stages:", "stages: [")})
        until(lambda: "the next change starts another round" in watching.stderr(), 30, "error")
        assert "pipeline.yaml:" in watching.stderr()
        write(
            tmp_path, {"pipeline.yaml": PIPELINE.replace("SLOW", "true"), "data/raw/c.txt": "c\n"}
        )
        until(lambda: text(tmp_path / "data/all/all.txt") == "A\nC\n", 30, "round after fix")
        watching.signal(signal.SIGINT)
        result = watching.result(30)
    finally:
        watching.stop()
    assert result.code == 0, result.stderr
    assert "pipeline.yaml:" in result.stderr
    assert "Traceback" not in result.stderr


def test_on_an_object_store_a_new_file_is_found_by_scanning(tmp_path: Path, s3_bucket: str) -> None:
    site = Site.in_bucket(s3_bucket)
    log = site.project(tmp_path, days=("2024-01-01",))
    data = DataDir(tmp_path, site.data)
    flags = ("--poll", "1s", "--debounce", "0.3s")
    env = {"CALLS_LOG": str(log)}
    watching = helpers.start("watch", *flags, cwd=tmp_path, env=env, fresh=True)
    try:
        until(lambda: "Run " in watching.stderr(), 90, "first round")
        data.write("raw/2024-01-02.csv", "day,2024-01-02\n")
        until(lambda: watching.stderr().count("Run ") == 2, 120, "second round")
        watching.signal(signal.SIGTERM)
        result = watching.result(30)
    finally:
        watching.stop()
    assert result.code == 0, result.stderr
    assert data.names("size") == ["2024-01-01.txt", "2024-01-02.txt"], result.stderr
