"""`kite validate`: check pipeline.yaml against the schema and for semantic errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kitecli.cli.options import JsonOption
from kitecli.cli.output import emit_json, out
from kitecli.errors import PipelineError
from kitecli.spec import loader
from kitecli.spec.init import install_schema


def validate(
    file: Annotated[
        Path | None, typer.Argument(help="The pipeline file (default: ./pipeline.yaml).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a pipeline and report every error at once, each as FILE:LINE:COL.

    Exits 0 when valid, 3 when not.

    Example:\n
      kite validate examples/weather/pipeline.yaml
    """
    try:
        pipeline = loader.load(file)
    except PipelineError as exc:
        if as_json:
            emit_json({"valid": False, "errors": [d.__dict__ for d in exc.diagnostics]})
        raise
    install_schema(pipeline.root)
    for warning in pipeline.warnings:
        print(f"warning: {warning.render()}", file=sys.stderr)
    if as_json:
        emit_json(
            {
                "valid": True,
                "errors": [],
                "warnings": [d.__dict__ for d in pipeline.warnings],
                "pipeline": pipeline.name,
                "stages": list(pipeline.stages),
                "digest": pipeline.digest,
            }
        )
        return
    envs = ", ".join(pipeline.environments)
    out(
        f"{loader.display_name(pipeline.path)}: valid: {len(pipeline.stages)} stages, "
        f"environments: {envs}"
    )


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
