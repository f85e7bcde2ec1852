"""`kite backfill`: run the datums of a time range again, newest or oldest first."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from kitecli.cli.apply import KeepPodsOption, cluster_options
from kitecli.cli.options import (
    CPUS,
    ContextOption,
    EnvOption,
    FileOption,
    IfBusy,
    IfBusyOption,
    JsonOption,
    KubeconfigOption,
    ParallelOption,
    check_downstream,
)
from kitecli.cli.output import emit_json, note, out, style
from kitecli.cli.plan import body, footer
from kitecli.cli.progress import StageProgress, report
from kitecli.history.project import open_project
from kitecli.plan.timerange import parse_range
from kitecli.run import backfill
from kitecli.run.apply import ApplyOptions, exit_code
from kitecli.store.ifbusy import policy


class Order(StrEnum):
    oldest_first = "oldest-first"
    newest_first = "newest-first"


class Reprocess(StrEnum):
    stale = "stale"
    failed = "failed"
    all = "all"


def backfill_command(
    time_range: Annotated[
        str,
        typer.Option(
            "--range",
            "-r",
            metavar="A..B",
            help="Both ends inclusive: months (2024-01), days (2024-01-31) or timestamps "
            "(2024-01-31T06:00).",
        ),
    ],
    stage: Annotated[
        list[str] | None,
        typer.Option("--stage", "-s", help="Datums of this stage (repeatable; default: all)."),
    ] = None,
    downstream: Annotated[
        bool,
        typer.Option("--downstream", help="With --stage: the stages after it follow."),
    ] = False,
    order: Annotated[
        Order, typer.Option("--order", help="Which datums start first.")
    ] = Order.oldest_first,
    reprocess: Annotated[
        Reprocess,
        typer.Option(
            "--reprocess",
            help="stale: datums with something to do; failed: those whose last attempt "
            "failed; all: every one, not from the run cache.",
        ),
    ] = Reprocess.stale,
    parallel: ParallelOption = CPUS,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Print the plan, in run order; run nothing.")
    ] = False,
    env: EnvOption = None,
    if_busy: IfBusyOption = IfBusy.wait,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Backfill a protected environment.")
    ] = False,
    keep_pods: KeepPodsOption = False,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    as_json: JsonOption = False,
    file: FileOption = None,
) -> None:
    """Run the datums whose date or time falls in a range again, in the order asked;
    what reads their outputs follows by fingerprint. Exits like `kite apply`.

    Example:\n
      kite backfill --range 2024-01-01..2024-01-31 --stage clean --downstream --order newest-first
    """
    check_downstream(downstream, stage)
    request = backfill.Request(
        range=parse_range(time_range),
        stages=tuple(stage or ()),
        downstream=downstream,
        order=backfill.order(order.value),
        reprocess=backfill.reprocess(reprocess.value),
    )
    project = open_project(file, env)
    if dry_run:
        planned = backfill.preview(project, request)
        for warning in planned.warnings:
            note(style("warning:", "1;33", sys.stderr) + " " + warning)
        if as_json:
            from kitecli.plan import planfile

            emit_json(planfile.to_json(planned, full=True))
        else:
            out("\n".join([*body(planned), "", footer(planned)]))
        raise typer.Exit(0)
    options = ApplyOptions(
        parallel=parallel,
        argv=("kite", *sys.argv[1:]),
        if_busy=policy(if_busy.value),
        yes=yes,
        cluster=cluster_options(keep_pods=keep_pods, kubeconfig=kubeconfig, context=context),
        progress=StageProgress(),
    )
    record = backfill.run(project, request, options, say=note)
    report(record, as_json=as_json, label=f"Backfill ({request.range.text})")
    raise typer.Exit(int(exit_code(record)))


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill_command)
