"""`kite plan` through the one command tree: the installed command and an in-process call
answer alike, and so do the spellings of one command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitecli.cli.main import run
from tests.helpers import kite, write

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
    outputs: {out: {path: orphan/, optional: true}}  # echo writes no file
"""

DATA = {
    "data/raw/2024-01-01/A.csv": "a1",
    "data/raw/2024-01-01/B.csv": "b1",
    "data/raw/2024-02-01/A.csv": "a2",
    "data/meta/A.json": "{}",
    "data/meta/C.json": "{}",
}


def installed(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """The command line as the installed `kite` runs it."""
    result = kite(*args, cwd=cwd)
    return result.code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project applied once, then with one input changed and one added."""
    root = tmp_path_factory.mktemp("lean")
    write(root, {"pipeline.yaml": PIPELINE, **DATA})
    done = kite("apply", cwd=root)
    assert done.code == 0, done.stderr
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


@pytest.fixture
def here(applied: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(applied)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("KITE_ENV", raising=False)
    return applied


def in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(args)
    return (code, *capsys.readouterr())


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c[1:]) or "plain" for c in CASES])
def test_in_process_answers_as_the_installed_command(
    here: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    inside = in_process(args, capsys)
    assert inside == installed(args, here)
    assert inside[0] in (0, 2, 3, 64)
    assert inside[1] or inside[2]  # it said something
    assert "Traceback" not in inside[2]


@pytest.mark.parametrize(
    "spellings",
    [
        [["plan", "--env=dev"], ["plan", "-e", "dev"], ["plan", "--env", "dev"]],
        [["plan", "--stage", "clean"], ["plan", "-s", "clean"], ["plan", "--stage=clean"]],
        [["plan", "-p", "suffix=y"], ["plan", "--param=suffix=y"]],
        [["plan", "--full", "--json"], ["plan", "--json", "--full"]],
    ],
)
def test_spellings_of_one_command_line_answer_alike(
    here: Path, spellings: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    answers = {in_process(args, capsys) for args in spellings}
    assert len(answers) == 1


def test_changes_set_the_detailed_exit_code(applied: Path) -> None:
    code, stdout, _ = installed(["plan", "--detailed-exitcode"], applied)
    assert code == 2
    assert "input changed: raw/2024-01-01/B.csv" in stdout
    assert "new input: raw/2024-03-01/A.csv" in stdout


def test_a_saved_plan_is_the_same_file_however_asked(applied: Path) -> None:
    assert installed(["plan", "--out", "long.json"], applied)[0] == 0
    assert installed(["plan", "-o", "short.json"], applied)[0] == 0
    assert (applied / "long.json").read_text() == (applied / "short.json").read_text()


@pytest.mark.parametrize(
    "args", [["plan", "extra"], ["plan", "--env"], ["plan", "--full=yes"], ["plan", "--bogus"]]
)
def test_usage_errors_exit_64_in_kites_words(applied: Path, args: list[str]) -> None:
    code, _, stderr = installed(args, applied)
    assert code == 64
    assert stderr.startswith("error: ")
    assert "hint: see `kite plan --help`" in stderr


def test_help_lists_every_option(applied: Path) -> None:
    code, stdout, _ = installed(["plan", "--help"], applied)
    assert code == 0
    assert "--detailed-exitcode" in stdout
