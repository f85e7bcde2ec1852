"""`kite completion bash|zsh|fish`: print a shell's completion script, from the installed kite."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    shell: Annotated[Shell, typer.Argument(help="The shell: bash, zsh or fish.")],
) -> None:
    """Print the completion script of SHELL, for every command and option of this kite.

    Example:\n
      source <(kite completion bash)\n
      kite completion zsh > ~/.zfunc/_kite\n
      kite completion fish > ~/.config/fish/completions/kite.fish
    """
    from kitecli.cli.completions import SHELLS, kite_tree

    sys.stdout.write(SHELLS[shell.value](kite_tree()))


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
