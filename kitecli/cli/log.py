"""`kite log`, `kite show` and `kite logs`: the history of runs, for post-mortems."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import EnvOption, FileOption, JsonOption
from kitecli.cli.output import emit_json, note, out
from kitecli.history import log as inspection
from kitecli.history.records import summary

# `kite logs -f` follows, as `tail -f` and `kubectl logs -f` do: here --file has no -f
LogsFileOption = Annotated[
    Path | None,
    typer.Option("--file", help="The pipeline file (default: pipeline.yaml here or in a parent)."),
]


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def log(
    env: EnvOption = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Only runs that ran this stage.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 20,
    as_json: JsonOption = False,
    file: FileOption = None,
) -> None:
    """List runs, newest first: id, environment, user, start, duration, status, counts.

    Example:\n
      kite log --env prod --limit 5
    """
    runs = inspection.runs(file=file, env=env, stage=stage)[:limit]
    if as_json:
        emit_json([summary(r) for r in runs])
        return
    for run in runs:
        counts = ", ".join(f"{v} {k}" for k, v in run.counts.items()) or "nothing ran"
        out(
            f"{run.id}  {run.env:<8} {run.user:<10} {_when(run.started)}  "
            f"{_took(run.duration):>7}  {run.status:<11} {counts}"
        )


def show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A run id, a unique prefix, or `last`.")
    ],
    env: EnvOption = None,
    as_json: JsonOption = False,
    open_it: Annotated[
        bool, typer.Option("--open", help="Write its timeline (`kite timeline`) and open it.")
    ] = False,
    file: FileOption = None,
) -> None:
    """Show a run: per stage and datum its attempts, status, exit code, times and reason.

    Example:\n
      kite show last
    """
    run, tails = inspection.run_with_tails(file=file, env=env, wanted=run_id)
    if open_it:
        from kitecli.cli.timeline import show_timeline

        written = show_timeline(file=file, env=env, wanted=run.id, output=None, open_it=True)
        note(f"timeline: {written}")
    if as_json:
        from kitecli.history.records import run_to_json

        emit_json(run_to_json(run))
        return
    out(f"run {run.id}  env {run.env}  user {run.user}@{run.host}  {run.status}")
    out(f"  started {_when(run.started)}  took {_took(run.duration)}  argv: {' '.join(run.argv)}")
    if run.options:
        out("  " + ", ".join(f"{k}: {v}" for k, v in run.options.items()))
    if run.paused:
        out(f"  paused {run.paused}: `kite apply` again goes on from there")
    current = None
    for n, attempt in enumerate(run.attempts):
        if attempt.stage != current:
            current = attempt.stage
            out(f"{current}:")
        key = ",".join(f"{k}={v}" for k, v in sorted(attempt.key.items())) or "(whole)"
        code = "-" if attempt.exit_code is None else str(attempt.exit_code)
        out(
            f"  {key:<30} #{attempt.attempt} {attempt.status:<9} exit {code:>3}  "
            f"{_when(attempt.started)}  {_took(attempt.runtime):>7}"
            + (f"  {attempt.reason}" if attempt.reason else "")
        )
        if attempt.resources and (attempt.retry or attempt.attempt > 1):
            out("      asked " + ", ".join(f"{k} {v}" for k, v in attempt.resources.items()))
        if attempt.retry:
            out(f"      {attempt.retry}")
        if attempt.iteration is not None:
            held = {True: "holds", False: "is false", None: "not evaluated"}[attempt.until]
            out(f"      iteration {attempt.iteration}: `until` {held}")
        if attempt.kept:
            out(f"      kept: {attempt.kept}/  (run it again: sh {attempt.kept}/command.sh)")
        for line in tails.get(n, ()):
            out(f"      | {line}")


def logs(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A run id, a unique prefix, or `last`.")
    ],
    stage: Annotated[str | None, typer.Argument(help="Only this stage.")] = None,
    datum: Annotated[
        list[str] | None, typer.Option("--datum", help="Only datums with FIELD=VALUE.")
    ] = None,
    follow_it: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="While the run runs: its attempts' output as it is written."
        ),
    ] = False,
    env: EnvOption = None,
    file: LogsFileOption = None,
) -> None:
    """Print the captured output of a run's attempts.

    With --follow, a run that is running is followed: each attempt's output as it is
    written (a pod's through the API server), until the run ends; then what it stored of
    the attempts not seen running (those that ended before), and how each ended.

    Example:\n
      kite logs last clean --datum station=seattle\n
      kite logs -f last
    """
    if follow_it and _followed(run_id, stage, datum or [], env=env, file=file):
        return
    shown = False
    for header, text in inspection.logs(
        file=file, env=env, wanted=run_id, stage=stage, datum=datum or []
    ):
        shown = True
        out(f"==> {header} <==")
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        if text and not text.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    if not shown:
        record = inspection.run(file=file, env=env, wanted=run_id)
        counts = ", ".join(f"{n} {k}" for k, n in record.counts.items()) or "nothing ran"
        which = " that match" if stage or datum else ""
        note(f"no attempt{which} in run {record.id} printed anything: {counts}")


def _followed(
    run_id: str, stage: str | None, datum: list[str], *, env: str | None, file: Path | None
) -> bool:
    """Follow the run if it runs now (True); False when it ended (print its stored logs)."""
    from kitecli.history.project import open_project
    from kitecli.run import follow

    project = open_project(file, env)
    project.history()
    running = follow.live_run(project, run_id)
    if running is None:
        return False
    wanted = follow.Wanted(stage, dict(inspection.field(d) for d in datum))
    follow.follow(project, running, wanted, write=_write, say=note)
    return True


def _write(text: str | bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode() if isinstance(text, str) else text)
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("log")(log)
    app.command("show")(show)
    app.command("logs")(logs)
