"""`kite apply`: run what the plan says is stale, commit the results and the run record."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from kitecli.applying import ApplyOptions, apply, exit_code
from kitecli.cli.options import EnvOption, FileOption, IfBusy, IfBusyOption
from kitecli.cli.output import note
from kitecli.ifbusy import policy
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
    if_busy: IfBusyOption = IfBusy.wait,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply to a protected environment.")
    ] = False,
    file: FileOption = None,
) -> None:
    """Plan, then run exactly the stale datums, and commit outputs and history.

    A protected environment (`protected: true`) is applied only with --yes.
    Exits 0 when everything succeeded (or, with --if-busy skip, when another run held the
    lease), 1 when a task failed, 5 when the lease is held and --if-busy fail, 130 when
    interrupted.

    Example:\n
      kite apply --env prod --parallel 4
    """
    project = open_project(file, env)
    options = ApplyOptions(
        parallel=parallel,
        stages=tuple(stage or ()),
        downstream=downstream,
        argv=("kite", *sys.argv[1:]),
        if_busy=policy(if_busy.value),
        yes=yes,
    )
    record = apply(project, options, say=note)
    if record is not None:
        counts = ", ".join(f"{n} {k}" for k, n in record.counts.items()) or "nothing"
        note(f"Run {record.id} {record.status}: {counts}.")
    raise typer.Exit(int(exit_code(record)))


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)
