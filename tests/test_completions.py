"""Shell completions: current with the commands, and working in real bash, fish and zsh."""

from __future__ import annotations

import shutil
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pytest
import typer

from kitecli.cli.completions import bash, describe, kite_tree, render_all
from kitecli.cli.main import COMMANDS, command

FOLDER = Path(__file__).parent.parent / "completions"

# every top-level command, in the order `kite --help` lists them
COMMAND_NAMES = [node.path[-1] for node in kite_tree().walk() if len(node.path) == 2]


def test_committed_completions_are_current() -> None:
    for name, text in render_all(kite_tree()).items():
        committed = FOLDER / name
        assert committed.is_file(), f"missing {committed}: run `make completions`"
        assert committed.read_text() == text, f"{committed} is stale: run `make completions`"


def test_every_command_registers_under_its_name() -> None:
    for name, (module, _line) in COMMANDS.items():
        assert command(module, name).name == name


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_installed_kite_prints_each_script(run_kite, shell: str) -> None:
    result = run_kite("completion", shell)
    assert result.code == 0, result.stderr
    assert result.stdout == (FOLDER / f"kite.{shell}").read_text()


def test_every_registered_command_is_completed() -> None:
    names = list(COMMANDS)
    assert "plan" in names
    scripts = {name: (FOLDER / name).read_text() for name in render_all(kite_tree())}
    for wanted in names:
        for name, text in scripts.items():
            assert f"kite {wanted}" in text or f"{wanted}:" in text, (wanted, name)


class Color(StrEnum):
    red = "red"
    blue = "blue"


def _toy() -> typer.Typer:
    """A CLI with a nested group, choices, a directory and a hidden command."""
    toy = typer.Typer(add_completion=False)
    store = typer.Typer(help="Look after the store.")

    @toy.command("paint")
    def paint(
        color: Annotated[Color, typer.Option("--color", "-c", help="Which colour.")] = Color.red,
        where: Annotated[Path, typer.Argument(help="A folder.", file_okay=False)] = Path("."),
    ) -> None:
        """Paint a folder."""

    @toy.command("secret", hidden=True)
    def secret() -> None:
        """Not listed."""

    @store.command("gc")
    def gc(dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
        """Delete what nothing refers to."""

    toy.add_typer(store, name="store")
    return toy


def test_describe_walks_groups_options_and_choices() -> None:
    root = describe(typer.main.get_command(_toy()))
    by_name = {c.name: c for c in root.walk()}
    assert set(by_name) == {"kite", "kite paint", "kite store", "kite store gc"}
    paint = by_name["kite paint"]
    color = next(o for o in paint.options if "--color" in o.names)
    assert color.names == ("--color", "-c")
    assert (color.takes, color.choices) == ("choice", ("red", "blue"))
    assert paint.arguments[0].takes == "dir"
    assert paint.help == "Paint a folder."
    assert by_name["kite store gc"].options[0].takes == "flag"


def _bash_complete(script: str, words: str, cwd: Path) -> list[str]:
    """What bash's completion function offers for `words` (the last one being completed)."""
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
        '_kite 2>/dev/null; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(
        ["bash", "--norc", "-c", program], cwd=cwd, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    script = str(FOLDER / "kite.bash")
    (tmp_path / "pipeline.yaml").touch()
    (tmp_path / "steps").mkdir()
    assert _bash_complete(script, 'kite ""', tmp_path) == COMMAND_NAMES
    assert _bash_complete(script, "kite gr", tmp_path) == ["graph"]
    assert _bash_complete(script, 'kite graph --format ""', tmp_path) == ["text", "mermaid", "dot"]
    assert _bash_complete(script, "kite --debug graph --fo", tmp_path) == ["--format"]
    assert _bash_complete(script, "kite graph -f pip", tmp_path) == ["pipeline.yaml"]
    assert _bash_complete(script, 'kite init ""', tmp_path) == ["steps"]
    (tmp_path / "with space.yaml").touch()
    assert _bash_complete(script, "kite validate wi", tmp_path) == ["with space.yaml"]


def test_bash_completes_nested_groups(tmp_path: Path) -> None:
    script = tmp_path / "toy.bash"
    script.write_text(bash(describe(typer.main.get_command(_toy()))))
    assert _bash_complete(str(script), 'kite ""', tmp_path) == ["paint", "store"]
    assert _bash_complete(str(script), 'kite store ""', tmp_path) == ["gc"]
    assert _bash_complete(str(script), "kite store gc --", tmp_path) == ["--dry-run", "--help"]
    assert _bash_complete(str(script), 'kite paint -c ""', tmp_path) == ["red", "blue"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_options_and_choices(tmp_path: Path) -> None:
    def complete(line: str) -> list[str]:
        program = f"source {FOLDER / 'kite.fish'}; complete -C '{line}'"
        out = subprocess.run(
            ["fish", "--no-config", "-c", program],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return [row.split("\t")[0] for row in out.stdout.splitlines()]

    assert complete("kite ") == sorted(COMMAND_NAMES)
    assert complete("kite graph --format ") == ["dot", "mermaid", "text"]
    assert "--json" in complete("kite validate --")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_in_an_interactive_shell(tmp_path: Path) -> None:
    (tmp_path / "_kite").write_text((FOLDER / "kite.zsh").read_text())
    # zpty drives a real interactive zsh; each `-m` read waits for the expected text.
    program = f"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=({tmp_path} \\$fpath); autoload -U compinit; compinit -u -D; print SET''UP"
zpty -r -m z out '*SETUP*'
zpty -w -n z $'kite graph --format \\t'
zpty -r -m z out '*mermaid*'
zpty -w -n z $'\\C-u kite va\\t'
zpty -r -m z out '*validate*'
print ok
"""
    out = subprocess.run(
        ["zsh", "-f", "-c", program],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip().endswith("ok"), out.stdout + out.stderr
