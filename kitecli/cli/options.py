"""Options several commands share."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f", help="The pipeline file (default: pipeline.yaml here or in a parent)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
EnvOption = Annotated[
    str | None,
    typer.Option("--env", "-e", help="The environment (default: KITE_ENV, else the first one)."),
]


class IfBusy(StrEnum):
    """What a run does when another run holds the environment's lease."""

    wait = "wait"
    skip = "skip"
    fail = "fail"


IfBusyOption = Annotated[
    IfBusy,
    typer.Option(
        "--if-busy",
        help="When another run holds the environment's lease: wait for it (saying who holds "
        "it every 30 s), skip (exit 0) or fail (exit 5).",
    ),
]

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="Set a param of pipeline.yaml for this run, typed like its value there (repeatable).",
    ),
]

StageOption = Annotated[
    list[str] | None, typer.Option("--stage", "-s", help="Only this stage (repeatable).")
]
DownstreamOption = Annotated[
    bool, typer.Option("--downstream", help="With --stage: also every stage after it.")
]
CPUS = os.cpu_count() or 1  # the default of --parallel
ParallelOption = Annotated[
    int, typer.Option("--parallel", "-j", min=1, help="Tasks at once (default: CPU count).")
]

KubeconfigOption = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="Kubernetes: default $KUBECONFIG, then ~/.kube/config."),
]
ContextOption = Annotated[
    str | None, typer.Option("--context", help="Kubernetes: the kubeconfig context to use.")
]

NowOption = Annotated[
    bool,
    typer.Option("--now", help="Run new datums at once, whatever their stage's `trigger:` says."),
]


def check_downstream(downstream: bool, stages: list[str] | None) -> None:
    """`--downstream` follows from the stages of `--stage`: alone it would mean nothing."""
    if downstream and not stages:
        from kitecli.errors import UsageError

        raise UsageError(
            "--downstream needs --stage: it adds the stages after the ones named",
            hint="name where to start: --stage S --downstream (without both: every stage)",
        )


def seconds(flag: str, text: str) -> float:
    """The seconds of a duration option (`--grace 2d`, `--wait 90` or `--wait 10m`)."""
    from kitecli.errors import UsageError
    from kitecli.spec.timefmt import DURATION_HINT, parse_duration

    try:
        return float(text) if text.strip().replace(".", "", 1).isdigit() else parse_duration(text)
    except ValueError:
        raise UsageError(f"{flag} {text}: not a duration", hint=DURATION_HINT) from None
