"""`kite timeline`: a run's attempts on a time axis, as one self-contained HTML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import EnvOption, FileOption
from kitecli.cli.output import note, out

OpenOption = Annotated[
    bool, typer.Option("--open", help="Open the file in the default web browser too.")
]


def timeline(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A run id, a unique prefix, or `last`.")
    ] = "last",
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write here (default: .kite/timelines/RUN.html in the project).",
        ),
    ] = None,
    open_it: OpenOption = False,
    env: EnvOption = None,
    file: FileOption = None,
) -> None:
    """Write a run's timeline: every attempt as a bar, one lane per stage, coloured by
    outcome, the critical path outlined, the stage summary above; hover for details.

    Example:\n
      kite timeline last -o timeline.html
    """
    written = show_timeline(file=file, env=env, wanted=run_id, output=output, open_it=open_it)
    out(str(written))


def show_timeline(
    *, file: Path | None, env: str | None, wanted: str, output: Path | None, open_it: bool
) -> Path:
    """Write the timeline (and open it, with `open_it`); returns the path to show."""
    from kitecli.history.timeline_html import write

    written = write(file=file, env=env, wanted=wanted, out=output)
    shown = Path(os.path.relpath(written)) if written.is_relative_to(Path.cwd()) else written
    if open_it:
        import webbrowser

        note(f"opening {shown} in a web browser")  # a terminal one keeps kite until it quits
        if not webbrowser.open(written.resolve().as_uri()):
            note(f"no web browser to open it with: open {shown} by hand")
    return shown


def register(app: typer.Typer) -> None:
    app.command("timeline")(timeline)
