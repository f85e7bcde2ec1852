"""Conventions every command keeps: colour only on a terminal, tracebacks only with --debug,
usage errors exit 64, an interrupted command exits 130."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import kite, write

INVALID = "kite: 1\nstages:\n  a:\n    comand: [x]\n    outputs: {o: a/}\n"
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colours(text: str) -> list[str]:
    """The colour settings (not bold or underline) among the ANSI styles in `text`."""
    found = []
    for params in _SGR.findall(text):
        for code in params.split(";"):
            if code.isdigit() and (30 <= int(code) <= 49 or 90 <= int(code) <= 107):
                found.append(code)
    return found


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "100", **extra}


def on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run kite with stdout and stderr on a pseudo-terminal; return its code and output."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kitecli", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal is closed once kite has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode()


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.yaml").write_text(INVALID)
    return tmp_path


@pytest.mark.parametrize("args", [["validate"], ["--help"]], ids=["error", "help"])
def test_colour_on_a_terminal_unless_no_color(invalid: Path, args: list[str]) -> None:
    code, text = on_a_terminal(args, invalid, environment())
    assert colours(text), text  # without NO_COLOR a terminal gets colour: the check can fail
    code_without, plain = on_a_terminal(args, invalid, environment(NO_COLOR="1"))
    assert code_without == code
    assert not colours(plain), plain


def test_no_escape_codes_when_not_a_terminal(invalid: Path) -> None:
    for args in (["validate"], ["--help"], ["graph", "--help"], ["validate", "--json"]):
        done = kite(*args, cwd=invalid, env=environment(NO_COLOR=""))  # empty: colour allowed
        assert "\x1b[" not in done.stdout + done.stderr, args


def test_debug_shows_a_traceback_and_its_absence_does_not(run_kite) -> None:
    plain = run_kite("validate")
    debug = run_kite("--debug", "validate")
    assert plain.code == debug.code == 3
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert "ProjectError" in debug.stderr
    assert plain.stderr.splitlines()[-2:] == debug.stderr.splitlines()[-2:]  # error:, hint:


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-command"],
        ["validate", "--no-such-option"],
        ["graph", "--format", "png"],
        ["graph", "--format"],
        ["validate", "one.yaml", "two.yaml"],
        ["init", "--force=maybe"],
        ["plan", "--downstream"],
        ["apply", "--downstream"],
        ["backfill", "--range", "2024-01-01..2024-01-02", "--downstream"],
    ],
)
def test_usage_errors_exit_64(argv: list[str], tmp_path: Path) -> None:
    done = kite(*argv, cwd=tmp_path)
    assert done.code == 64
    assert done.stderr.startswith("error: ")  # kite's own words, not the parser's box
    assert "\nhint: " in done.stderr  # and what to do instead
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "pipeline.yaml").exists()  # nothing ran


# `kite validate` with reading made slow, so that the interrupt lands while it works.
SLOW_VALIDATE = """
import sys, time
from kitecli.spec import loader as spec
from kitecli.__main__ import main

def slow_read(path):
    print("reading", file=sys.stderr, flush=True)
    time.sleep(60)

spec.read = slow_read
sys.argv = ["kite", "validate"]
main()
"""


def test_an_interrupted_command_exits_130(invalid: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_VALIDATE],
        cwd=invalid,
        env=environment(NO_COLOR="1"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert proc.stderr.readline() == "reading\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    rest = proc.stderr.read()
    assert rest.strip() == "error: interrupted"


# `kite graph` with a bug planted in loading the pipeline
BUGGY = """
import sys
import kitecli.spec.loader

def bug(*_args, **_kwargs):
    raise RuntimeError("a planted bug")

kitecli.spec.loader.load = bug
sys.argv = ["kite", *sys.argv[1:]]
from kitecli.__main__ import main
main()
"""


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_said_in_a_line_and_shown_with_debug(invalid: Path, debug: bool) -> None:
    args = ["--debug", "graph"] if debug else ["graph"]
    proc = subprocess.run(
        [sys.executable, "-c", BUGGY, *args],
        cwd=invalid,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert ("Traceback" in proc.stderr) is debug
    if not debug:
        assert proc.stderr.startswith("error: internal error: RuntimeError: a planted bug\n")
        assert "hint: this is a bug in kite" in proc.stderr


MANY = """\
kite: 1
environments:
  dev: {data: ., metadata: ./meta, cache: ./cache}
stages:
  copy:
    inputs:
      d: {path: d/, each: "{name}.txt"}
    command: [cp, -r, "{{ inputs.d }}/.", "{{ outputs.o }}"]
    outputs: {o: o/}
"""


def test_a_reader_that_goes_away_ends_kite_quietly(tmp_path: Path) -> None:
    """`kite plan --json | head -c 10`: exit 141 as after SIGPIPE, nothing on stderr."""
    write(tmp_path, {"pipeline.yaml": MANY})
    write(tmp_path, {f"d/f{n}.txt": f"{n}\n" for n in range(2000)})  # far more than a pipe holds
    for _ in range(3):  # the race it had was lost only some of the time
        proc = subprocess.Popen(
            [sys.executable, "-m", "kitecli", "plan", "--json"],
            cwd=tmp_path,
            env=environment(NO_COLOR="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.read(10)
        proc.stdout.close()
        assert proc.wait(timeout=60) == 141
        assert proc.stderr.read() == b""
