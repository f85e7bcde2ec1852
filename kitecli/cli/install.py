"""`kite install`: prepare a cluster for an environment (namespace, one identity per stage)."""

from __future__ import annotations

from typing import Annotated

import typer

from kitecli.cli.options import ContextOption, FileOption, JsonOption, KubeconfigOption
from kitecli.cli.output import emit_json, note, out
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
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    file: FileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Install what an environment needs in the cluster: its namespace (if allowed), one
    ServiceAccount per stage, the runner's ServiceAccount, Role and RoleBinding, and with a
    `schedule:` the CronJob that runs `kite apply` on its own.

    Everything is labelled with the installing user (KITE_USER, else the OS user); the
    stages' accounts carry the environment's `service_account_annotations` (workload
    identity). Running it again changes nothing unless the pipeline did.

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
        for warning in core.warnings(pipeline, environment):
            note(f"warning: {warning}")
        return
    changes, warnings = core.run_install(
        pipeline,
        environment,
        user=current_user(),
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=context,
    )
    for warning in warnings:
        note(f"warning: {warning}")
    if as_json:
        emit_json([change.__dict__ for change in changes])
        return
    for change in changes:
        why = f" ({change.note})" if change.note else ""
        out(f"{change.kind}/{change.name}: {change.action}{why}")


def register(app: typer.Typer) -> None:
    app.command("install")(install)
