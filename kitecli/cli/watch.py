"""`kite watch`: keep applying as the input folders change."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import (
    CPUS,
    DownstreamOption,
    EnvOption,
    FileOption,
    ParallelOption,
    ParamOption,
    StageOption,
    check_downstream,
    seconds,
)
from kitecli.cli.output import note, render_error
from kitecli.cli.progress import StageProgress, report
from kitecli.history.project import Project, open_project
from kitecli.history.records import RunRecord
from kitecli.run.apply import ApplyOptions, apply
from kitecli.run.watch import WatchOptions, watch


def watch_command(
    env: EnvOption = None,
    stage: StageOption = None,
    downstream: DownstreamOption = False,
    parallel: ParallelOption = CPUS,
    debounce: Annotated[
        str, typer.Option("--debounce", metavar="DURATION", help="Quiet time before a round.")
    ] = "1s",
    every: Annotated[
        str,
        typer.Option("--every", metavar="DURATION", help="A round at least this often anyway."),
    ] = "10m",
    poll: Annotated[
        str,
        typer.Option(
            "--poll", metavar="DURATION", help="Scan input folders on an object store this often."
        ),
    ] = "30s",
    param: ParamOption = None,
    file: FileOption = None,
) -> None:
    """Apply, then apply again each time the input folders change, until stopped.

    Local input folders are watched with inotify (else scanned every 2 s), those on an
    object store scanned every --poll. A round starts once they have been quiet for
    --debounce after a change, and every --every anyway. Each round is one run, as
    `kite apply --if-busy skip` makes it. A failed round is reported and watching goes on.
    SIGINT or SIGTERM stops it: between rounds at once (exit 0), during a round as they
    stop `kite apply` (exit 130).

    Example:\n
      kite watch --env dev --debounce 2s
    """
    check_downstream(downstream, stage)
    options = WatchOptions(
        debounce=seconds("--debounce", debounce),
        every=seconds("--every", every),
        poll=seconds("--poll", poll),
        stages=tuple(stage or ()),
        downstream=downstream,
        pipeline=file or Path("pipeline.yaml"),
    )

    def opened() -> Project:
        return open_project(file, env, params=param or ())

    def one_round(project: Project) -> RunRecord | None:
        applying = ApplyOptions(
            params=dict(project.pipeline.overrides),
            parallel=parallel,
            stages=options.stages,
            downstream=downstream,
            argv=("kite", *sys.argv[1:]),
            if_busy="skip",
        )
        record = apply(project, applying, say=note, progress=StageProgress())
        report(record, as_json=False)
        return record

    raise typer.Exit(int(watch(opened, one_round, options, say=note, failed=render_error)))


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_command)
