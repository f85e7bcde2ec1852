"""`kite gc`: reclaim content-store space the history and the run cache no longer need."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kitecli.cli.options import FileOption, IfBusy, JsonOption, seconds
from kitecli.cli.output import emit_json, out
from kitecli.history.gc import collect
from kitecli.spec import loader
from kitecli.store.ifbusy import policy

EnvsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        "-e",
        help="Collect this environment's store (repeatable; default: every environment's).",
    ),
]


def _size(count: int) -> str:
    value, unit = float(count), "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"


def gc(
    env: EnvsOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Say what would be removed; remove nothing.")
    ] = False,
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            help="Keep unreferenced blobs written more recently than this. "
            "--grace 0 removes blobs just written by an apply of another project sharing "
            "the store, or by a kite that does not take leases: use it only when nothing "
            "else writes to the store.",
        ),
    ] = "1d",
    if_busy: Annotated[
        IfBusy,
        typer.Option(
            "--if-busy",
            help="When an apply holds an environment's lease: wait for it, skip (exit 0) "
            "or fail (exit 5, the default).",
        ),
    ] = IfBusy.fail,
    as_json: JsonOption = False,
    file: FileOption = None,
) -> None:
    """Remove from the content store every blob that no commit of any environment's
    history and no run-cache entry references, and that is older than the grace period.
    Holds every environment's apply lease while it works (a dry run takes none).

    Example:\n
      kite gc --dry-run\n
      kite gc --env dev --grace 2h
    """
    sweeps = collect(
        loader.load(file),
        envs=env or (),
        grace=seconds("--grace", grace),
        dry_run=dry_run,
        if_busy=policy(if_busy.value),
        say=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if sweeps is None:
        return
    if as_json:
        emit_json([s.to_json() for s in sweeps])
        return
    verb = "would remove" if dry_run else "removed"
    for sweep in sweeps:
        out(
            f"{sweep.store}: {verb} {len(sweep.removed)} blobs ({_size(sweep.bytes)}); "
            f"kept {sweep.kept} referenced, {sweep.young} within the grace period"
        )


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
