"""`kite apply`: run what the plan says is stale, commit the results and the run record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import (
    CPUS,
    ContextOption,
    DownstreamOption,
    EnvOption,
    FileOption,
    IfBusy,
    IfBusyOption,
    JsonOption,
    KubeconfigOption,
    NowOption,
    ParallelOption,
    ParamOption,
    StageOption,
    check_downstream,
    seconds,
)
from kitecli.cli.output import note
from kitecli.cli.progress import StageProgress, report
from kitecli.errors import UsageError
from kitecli.history.project import open_project
from kitecli.plan import planfile
from kitecli.run.apply import ApplyOptions, apply, exit_code
from kitecli.run.breaks import advice, breakpoints
from kitecli.run.lanes import ClusterOptions
from kitecli.store.ifbusy import policy

KeepPodsOption = Annotated[
    bool,
    typer.Option("--keep-pods", help="Kubernetes: keep finished pods (logs are kept anyway)."),
]
BreakBeforeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--break-before",
        metavar="STAGE",
        help="Pause before STAGE runs, all before it committed (exit 6; repeatable).",
    ),
]
KeepFailedOption = Annotated[
    bool,
    typer.Option(
        "--keep-failed",
        help="Keep each failed attempt's folder and command under .kite/kept/RUN/.",
    ),
]
BreakOnFailureOption = Annotated[
    bool,
    typer.Option(
        "--break-on-failure", help="Pause at the first datum that fails for good (exit 6)."
    ),
]


def cluster_options(
    *, keep_pods: bool, kubeconfig: Path | None, context: str | None
) -> ClusterOptions:
    """How to reach the cluster, from --keep-pods, --kubeconfig and --context."""
    return ClusterOptions(
        kubeconfig=str(kubeconfig) if kubeconfig else None, context=context, keep_pods=keep_pods
    )


def apply_command(
    plan_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="PLAN", help="A plan saved by `kite plan --out`: run exactly that plan."
        ),
    ] = None,
    env: EnvOption = None,
    stage: StageOption = None,
    downstream: DownstreamOption = False,
    parallel: ParallelOption = CPUS,
    if_busy: IfBusyOption = IfBusy.wait,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply to a protected environment.")
    ] = False,
    param: ParamOption = None,
    keep_pods: KeepPodsOption = False,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait",
            metavar="DURATION",
            help="First wait up to DURATION (90s, 10m) for inputs that are not `ready:` yet.",
        ),
    ] = None,
    now: NowOption = False,
    break_before: BreakBeforeOption = None,
    break_on_failure: BreakOnFailureOption = False,
    keep_failed: KeepFailedOption = False,
    as_json: JsonOption = False,
    file: FileOption = None,
) -> None:
    """Plan, then run exactly the stale datums, and commit outputs and history.

    With PLAN, run exactly that saved plan; it is refused (exit 3) when the environment,
    the pipeline or a planned input changed since. A protected environment
    (`protected: true`) is applied only with --yes or a saved plan. Exits 0 when everything
    succeeded (or, with --if-busy skip, when another run held the lease), 1 when a task
    failed, 5 when the lease is held and --if-busy fail, 6 when a breakpoint
    (--break-before, --break-on-failure) paused it, 130 when interrupted. Stages run
    where `executor:` says: local processes, or pods (`--keep-pods` keeps them).

    Example:\n
      kite apply --env prod --parallel 4\n
      kite plan --out plan.json && kite apply plan.json\n
      kite apply --param region=eu\n
      kite apply --break-before size --break-on-failure
    """
    check_downstream(downstream, stage)
    saved = None
    if plan_file is not None:
        if stage or downstream or param or wait:
            raise UsageError(
                "--stage, --downstream, --param and --wait choose what to plan; "
                "a saved plan is already chosen",
                hint="kite plan --stage S --param NAME=VALUE --out plan.json, "
                "then kite apply plan.json",
            )
        saved = planfile.load(plan_file)
    params = saved.params if saved else param or ()
    project = open_project(file, env or (saved.env if saved else None), params=params)
    breaks = breakpoints(project.pipeline, tuple(break_before or ()), on_failure=break_on_failure)
    options = ApplyOptions(
        params=dict(project.pipeline.overrides),
        parallel=parallel,
        stages=tuple(stage or ()),
        downstream=downstream,
        argv=("kite", *sys.argv[1:]),
        plan=planfile.digest(plan_file) if plan_file else None,
        if_busy=policy(if_busy.value),
        yes=yes,
        cluster=cluster_options(keep_pods=keep_pods, kubeconfig=kubeconfig, context=context),
        wait=seconds("--wait", wait) if wait else 0.0,
        now=now,
        breaks=breaks,
        keep_failed=keep_failed,
        options=breaks.options() | ({"keep_failed": True} if keep_failed else {}),
    )
    record = apply(project, options, say=note, progress=StageProgress(), saved=saved)
    report(record, as_json=as_json)
    if record is not None and record.status == "paused":
        for line in advice(record, env=project.env.name):
            note(line)
    raise typer.Exit(int(exit_code(record)))


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)
