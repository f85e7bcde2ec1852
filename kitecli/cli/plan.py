"""`kite plan`: say what `kite apply` would do, datum by datum, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import (
    DownstreamOption,
    FileOption,
    JsonOption,
    NowOption,
    ParamOption,
    check_downstream,
)
from kitecli.cli.planview import SHOWN, body, execute, footer, render

__all__ = ["SHOWN", "body", "footer", "plan", "register", "render"]


def plan(
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            metavar="ENV",
            help="The environment (default: KITE_ENV, else the first).",
        ),
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            metavar="STAGE",
            help="Plan only this stage (all its matrix variants); repeat for more.",
        ),
    ] = None,
    downstream: DownstreamOption = False,
    full: Annotated[
        bool, typer.Option("--full", help="List every datum, unchanged ones too.")
    ] = False,
    as_json: JsonOption = False,
    save: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Save the plan for `kite apply FILE` to run exactly.",
        ),
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 0 when nothing changes, 2 when it does."),
    ] = False,
    param: ParamOption = None,
    now: NowOption = False,
    file: FileOption = None,
) -> int:
    """Show which datums `kite apply` would run, take from the cache, restore or delete, and why.

    Example:\n
      kite plan --env prod --stage clean --downstream --out plan.json\n
      kite plan --param region=eu --param min_temp_c=-40
    """
    check_downstream(downstream, stage)
    return execute(
        file=file,
        env=env,
        stages=stage or (),
        downstream=downstream,
        full=full,
        as_json=as_json,
        save=save,
        detailed_exitcode=detailed_exitcode,
        params=param or (),
        now=now,
    )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
