"""`kite init`: write a starter pipeline.yaml and ignore kite's state in git."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.output import out
from kitecli.spec.init import init_project


def init(
    folder: Annotated[
        Path, typer.Argument(help="Where to create the project.", file_okay=False)
    ] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing pipeline.yaml.")
    ] = False,
) -> None:
    """Create a commented starter pipeline.yaml that validates and runs.

    Example:\n
      mkdir my-pipeline && cd my-pipeline && kite init && kite validate
    """
    for line in init_project(folder, force=force):
        out(line)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
