"""The documentation is true: every command has an example and a README section, and what
the README shows (opening commands, pipelines, errors, exit codes, editor set-up) is what
kite does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kitecli.cli.completions import kite_tree
from kitecli.errors import ExitCode
from kitecli.spec.init import SCHEMA_COPY
from kitecli.spec.loader import schema
from tests.helpers import kite

README = (Path(__file__).parent.parent / "README.md").read_text()
COMMANDS = [c.path[1:] for c in kite_tree().walk()]  # () is kite itself


def section(title: str) -> str:
    """The README text under a heading, up to the next heading of the same or higher level."""
    level, body, fenced = 0, [], False
    for line in README.splitlines(keepends=True):
        fenced ^= line.startswith("```")
        heading = None if fenced else re.match(r"(#+) (.*)", line)
        if heading and level and len(heading[1]) <= level:
            break
        if level:
            body.append(line)
        elif heading and heading[2] == title:
            level = len(heading[1])
    assert level, f"README has no section '{title}'"
    return "".join(body)


def blocks(text: str, lang: str = "") -> list[str]:
    """The fenced code blocks of `text` opened with ```LANG (exactly)."""
    found: list[str] = []
    current: list[str] | None = None
    inside = False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if not inside and line.strip() == "```" + lang:
                current = []
            elif inside and current is not None:
                found.append("".join(current))
                current = None
            inside = not inside
        elif current is not None:
            current.append(line)
    return found


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "kite" for p in COMMANDS])
def test_help_has_an_example(path: tuple[str, ...], tmp_path: Path) -> None:
    done = kite(*path, "--help", cwd=tmp_path)
    assert done.code == 0, done.stderr
    text = done.stdout
    assert "Example:" in text
    after = text.split("Example:", 1)[1]
    shown = " ".join(("kite", *path))
    assert any(shown in line for line in after.splitlines()), text


@pytest.mark.parametrize("path", COMMANDS[1:], ids=[" ".join(p) for p in COMMANDS[1:]])
def test_commands_are_documented(path: tuple[str, ...]) -> None:
    heading = "### kite " + " ".join(path)
    assert heading in README.splitlines(), f"README needs a section '{heading}'"
    assert blocks(section(heading[4:]), "sh"), f"'{heading}' needs an example"


def test_readme_opens_with_the_two_commands() -> None:
    assert README.index("```") == README.index("```sh\n")  # the first code in the README
    first = blocks(README, "sh")[0]
    assert [line.split("#")[0].strip() for line in first.splitlines()] == ["make demo", "make test"]


def test_exit_code_table_is_the_one_in_errors() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section("Exit codes"), re.M)
    assert [int(code) for code, _ in rows] == [int(code) for code in ExitCode]


def test_writing_a_pipeline_example_validates(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text(blocks(section("Writing a pipeline"), "yaml")[0])
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "clean.py").touch()
    done = kite("validate", cwd=tmp_path)
    assert done.code == 0, done.stderr


def test_errors_example_is_what_kite_prints(tmp_path: Path) -> None:
    text = section("Errors")
    (tmp_path / "pipeline.yaml").write_text(blocks(text, "yaml")[0])
    done = kite("validate", cwd=tmp_path)
    assert done.code == 3
    assert done.stderr == blocks(text)[0]


def test_editor_support_as_described(tmp_path: Path) -> None:
    comment = blocks(section("Editor support"), "yaml")[0].strip()
    assert comment == f"# yaml-language-server: $schema={SCHEMA_COPY}"
    assert kite("init", cwd=tmp_path).code == 0
    pipeline = tmp_path / "pipeline.yaml"
    assert pipeline.read_text().splitlines()[0] == comment
    copy = tmp_path / SCHEMA_COPY
    assert json.loads(copy.read_text()) == schema()
    copy.unlink()
    assert kite("validate", cwd=tmp_path).code == 0  # validate puts a missing copy back
    assert copy.is_file()
