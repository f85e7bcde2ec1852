"""`kite plan` on its lean entry (kitecli/cli/fastplan.py) answers exactly as through typer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kitecli.cli.fastplan import parse_plan
from tests.conftest import write

PIPELINE = """\
kite: 1
name: lean
params: {suffix: x}
environments:
  prod: {data: ./data}
  dev: {data: ./data-dev}
stages:
  clean:
    inputs: {raw: {path: raw/, each: "{day}/{station}.csv"}}
    command: [cp, -rLT, "{{ inputs.raw }}", "{{ outputs.clean }}"]
    outputs: {clean: clean/}
  monthly:
    inputs: {clean: {path: clean/, each: "{day}/{station}.csv", by: [month]}}
    command: [cp, -rLT, "{{ inputs.clean }}", "{{ outputs.monthly }}"]
    outputs: {monthly: monthly/}
  orphan:
    inputs:
      raw: {path: raw/, each: "{day}/{station}.csv"}
      meta: {path: meta/, each: "{station}.json"}
    command: [echo, "{{ params.suffix }}"]
    outputs: {out: orphan/}
"""

DATA = {
    "data/raw/2024-01-01/A.csv": "a1",
    "data/raw/2024-01-01/B.csv": "b1",
    "data/raw/2024-02-01/A.csv": "a2",
    "data/meta/A.json": "{}",
    "data/meta/C.json": "{}",
}


def run_both(args: list[str], cwd: Path) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """The command line through `python -m kitecli` (lean entry) and through typer alone."""
    typer_only = "import sys; from kitecli.cli.main import run; sys.exit(run(sys.argv[1:]))"
    answers = []
    for argv in (["-m", "kitecli", *args], ["-c", typer_only, *args]):
        proc = subprocess.run(
            [sys.executable, *argv],
            cwd=cwd,
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        answers.append((proc.returncode, proc.stdout, proc.stderr))
    return answers[0], answers[1]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project applied once, then with one input changed and one added."""
    root = tmp_path_factory.mktemp("lean")
    write(root, {"pipeline.yaml": PIPELINE, **DATA})
    done = subprocess.run(
        [sys.executable, "-m", "kitecli", "apply"], cwd=root, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    write(root, {"data/raw/2024-01-01/B.csv": "b1 changed", "data/raw/2024-03-01/A.csv": "a3"})
    return root


CASES = [
    ["plan"],
    ["plan", "--json"],
    ["plan", "--full", "--detailed-exitcode"],
    ["plan", "--json", "--full", "-e", "prod"],
    ["plan", "--stage", "clean", "--downstream"],
    ["plan", "--env=dev", "--detailed-exitcode"],
    ["plan", "-p", "suffix=y", "-f", "pipeline.yaml"],
    ["plan", "--env", "nope"],
    ["plan", "--stage", "clen"],
    ["plan", "--param", "nothere=1"],
    ["plan", "--file", "missing.yaml"],
    ["plan", "--out", "no/such/plan.json"],
]


def in_process(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[tuple[int | None, str, str], tuple[int, str, str]]:
    """The command line through the lean entry and through typer, in this process."""
    from kitecli.cli.fastplan import dispatch
    from kitecli.cli.main import run

    capsys.readouterr()
    code = dispatch(args[1:])
    lean = (code, *capsys.readouterr())
    code = run(args)
    return lean, (code, *capsys.readouterr())


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c[1:]) or "plain" for c in CASES])
def test_the_lean_entry_answers_as_typer_does(
    applied: Path,
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(applied)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("KITE_ENV", raising=False)
    assert parse_plan(args[1:]) is not None  # these take the lean entry
    lean, typer = in_process(args, capsys)
    assert lean == typer
    assert lean[1] or lean[2]  # it said something


def test_the_installed_command_takes_the_lean_entry(applied: Path) -> None:
    lean, typer = run_both(["plan", "--detailed-exitcode"], applied)
    assert lean == typer
    assert lean[0] == 2


def test_a_saved_plan_is_the_same_file(applied: Path) -> None:
    lean, typer = run_both(["plan", "--out", "lean.json"], applied)
    again, _ = run_both(["plan", "-o", "typer.json"], applied)
    assert lean[0] == typer[0] == again[0] == 0
    assert (applied / "lean.json").read_text() == (applied / "typer.json").read_text()


def test_changes_show_in_both(applied: Path) -> None:
    lean, _ = run_both(["plan", "--detailed-exitcode"], applied)
    assert lean[0] == 2
    assert "input changed: raw/2024-01-01/B.csv" in lean[1]
    assert "new input: raw/2024-03-01/A.csv" in lean[1]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["extra"],
        ["--env"],
        ["--env", "a", "--env", "b"],
        ["--json", "--json"],
        ["--full=yes"],
        ["-eprod"],
        ["-e=prod"],
        ["--env="],
        ["--stage", "-x"],
        ["--debug"],
        ["--", "x"],
    ],
)
def test_anything_unusual_goes_to_typer(args: list[str]) -> None:
    assert parse_plan(args) is None


def test_what_the_parser_gives() -> None:
    got = parse_plan(["-s", "a", "--stage=b", "--out", "p.json", "--json", "-p", "x=1"])
    assert got == {
        "stages": ["a", "b"],
        "save": Path("p.json"),
        "as_json": True,
        "params": ["x=1"],
    }


def test_help_still_comes_from_typer(applied: Path) -> None:
    lean, typer = run_both(["plan", "--help"], applied)
    assert lean == typer
    assert "--detailed-exitcode" in lean[1]
