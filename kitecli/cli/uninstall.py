"""`kite uninstall`: remove what `kite install` made for an environment, nothing else."""

from __future__ import annotations

from typing import Annotated

import typer

from kitecli.cli.options import ContextOption, FileOption, JsonOption, KubeconfigOption
from kitecli.cli.output import emit_json, out
from kitecli.executors import install
from kitecli.executors import uninstall as core
from kitecli.spec import loader


def uninstall(
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", envvar="KITE_ENV", help="The environment to uninstall."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Name what would be deleted; delete nothing.")
    ] = False,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    file: FileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the CronJob, the runner's RoleBinding and Role and the service accounts that
    `kite install` made for the environment (found by their labels), and nothing else.

    The namespace is kept: it may hold the claim with the data. Data, metadata and history
    are untouched.

    Example:\n
      kite uninstall --env cluster --dry-run
    """
    pipeline = loader.load(file)
    environment = install.select_environment(pipeline, env)
    changes = core.run_uninstall(
        pipeline.name,
        environment.name,
        namespace=environment.namespace,
        dry_run=dry_run,
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=context,
    )
    if as_json:
        emit_json([change.__dict__ for change in changes])
        return
    for change in changes:
        why = f" ({change.note})" if change.note else ""
        out(f"{change.kind}/{change.name}: {change.action}{why}")


def register(app: typer.Typer) -> None:
    app.command("uninstall")(uninstall)
