"""`kite graph`: draw the stage DAG as text, Mermaid or Graphviz dot."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from kitecli.cli.options import FileOption
from kitecli.spec import loader
from kitecli.spec.graph import Graph, draw


class Format(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


def graph(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    file: FileOption = None,
) -> None:
    """Show which stage reads whose output.

    Example:\n
      kite graph --format mermaid > pipeline.mmd
    """
    pipeline = loader.load(file)
    typer.echo(draw(pipeline.stages, Graph.of(pipeline.stages), fmt.value), nl=False)


def register(app: typer.Typer) -> None:
    app.command("graph")(graph)
