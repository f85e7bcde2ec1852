"""`kite apply`: run what the plan says is stale, commit the results and the run record."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from kitecli.applying import ApplyOptions, apply, exit_code
from kitecli.cli.options import EnvOption, FileOption
from kitecli.cli.output import note
from kitecli.project import open_project


def apply_command(
    env: EnvOption = None,
    stage: Annotated[
        list[str] | None, typer.Option("--stage", "-s", help="Only this stage (repeatable).")
    ] = None,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="With --stage: also every stage after it.")
    ] = False,
    parallel: Annotated[
        int, typer.Option("--parallel", "-j", min=1, help="Tasks at once (default: CPU count).")
    ] = os.cpu_count() or 1,
    file: FileOption = None,
) -> None:
    """Plan, then run exactly the stale datums, and commit outputs and history.

    Exits 0 when everything succeeded, 1 when a task failed, 130 when interrupted.

    Example:\n
      kite apply --env prod --parallel 4
    """
    project = open_project(file, env)
    options = ApplyOptions(
        parallel=parallel,
        stages=tuple(stage or ()),
        downstream=downstream,
        argv=("kite", *sys.argv[1:]),
    )
    record = apply(project, options, say=note)
    if record is not None:
        counts = ", ".join(f"{n} {k}" for k, n in record.counts.items()) or "nothing"
        note(f"Run {record.id} {record.status}: {counts}.")
    raise typer.Exit(int(exit_code(record)))


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)
