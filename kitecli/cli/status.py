"""`kite status`: the schedule, the next and the last run, and whether one runs now."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

import typer

from kitecli.cli.options import ContextOption, EnvOption, FileOption, JsonOption, KubeconfigOption
from kitecli.cli.output import emit_json, out
from kitecli.run import status as core


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _took(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def status(
    env: EnvOption = None,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    no_cluster: Annotated[
        bool, typer.Option("--no-cluster", help="Do not ask the cluster about the CronJob.")
    ] = False,
    file: FileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the environment's schedule, its next and last run, whether a run holds the
    lease now, and what the cluster says of the schedule's CronJob.

    Example:\n
      kite status --env prod
    """
    found = core.status(
        file=file,
        env=env,
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=context,
        cluster=not no_cluster,
    )
    if as_json:
        emit_json(dataclasses.asdict(found))
        return
    for label, text in _lines(found):
        out(f"{label:<12} {text}")


def _lines(found: core.Status) -> list[tuple[str, str]]:
    lines = [("environment", found.env)]
    if found.schedule is None:
        lines.append(("schedule", "none (runs only when someone runs `kite apply`)"))
    else:
        lines.append(
            (
                "schedule",
                f"{found.schedule['cron']} ({found.schedule['timezone']}), "
                f"if busy: {found.schedule['if_busy']}",
            )
        )
        wait = "" if found.next_run is None else f" (in {_took(found.next_run - found.checked)})"
        lines.append(("next run", _when(found.next_run) + wait))
    held = found.running
    lines.append(
        (
            "running",
            "no"
            if held is None
            else f"yes: {held.holder} on {held.host} (pid "
            f"{held.pid}), lease until {_when(held.expires)}",
        )
    )
    last = found.last_run
    if last is None:
        lines.append(("last run", "none yet"))
    else:
        took = "" if last.ended is None else f", took {_took(last.ended - last.started)}"
        lines.append(("last run", f"{last.id} {last.status}, started {_when(last.started)}{took}"))
    view = found.cluster
    if view is not None:
        lines.append(("cluster", _cluster(view)))
    return lines


def _cluster(view: core.CronJobView) -> str:
    if not view.found:
        return f"CronJob {view.name}: {view.note}"
    parts = [
        f"CronJob {view.name}" + (" (suspended)" if view.suspended else ""),
        f"last scheduled {view.last_schedule or 'never'}",
        f"last succeeded {view.last_success or 'never'}",
        f"{view.active} Job{'s' if view.active != 1 else ''} active",
    ]
    return ", ".join(parts)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
