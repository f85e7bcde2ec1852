"""`kite install`: prepare a cluster for an environment (namespace, one identity per stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import FileOption, JsonOption
from kitecli.cli.output import emit_json, out
from kitecli.executors import install as core
from kitecli.spec import loader
from kitecli.spec.build import current_user


def install(
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", envvar="KITE_ENV", help="The environment to install."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Print the manifests as YAML; change nothing.")
    ] = False,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Default: $KUBECONFIG, ~/.kube/config.")
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="kubeconfig context.")] = None,
    file: FileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the environment's namespace (if allowed) and one ServiceAccount per stage.

    The accounts are labelled with the installing user (KITE_USER, else the OS user) and
    carry the environment's `service_account_annotations` (workload identity). Running it
    again changes nothing unless the pipeline did.

    Example:\n
      kite install --env cluster --dry-run | kubectl apply --dry-run=server -f -
    """
    pipeline = loader.load(file)
    environment = core.select_environment(pipeline, env)
    if dry_run:
        wanted = core.manifests(
            pipeline,
            environment,
            user=current_user(),
            namespace=environment.namespace or "default",
        )
        out(core.to_yaml(wanted))
        return
    changes = core.run_install(
        pipeline,
        environment,
        user=current_user(),
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=context,
    )
    if as_json:
        emit_json([change.__dict__ for change in changes])
        return
    for change in changes:
        note = f" ({change.note})" if change.note else ""
        out(f"{change.kind}/{change.name}: {change.action}{note}")


def register(app: typer.Typer) -> None:
    app.command("install")(install)
