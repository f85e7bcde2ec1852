"""`kite debug`: one datum prepared as apply would prepare it, runnable by hand."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e import calls, make_project


def test_the_printed_command_runs_the_datum_by_hand(run_kite, tmp_path: Path) -> None:
    log = make_project(tmp_path)
    shown = run_kite("debug", "clean", "--datum", "day=2024-01-02")
    assert shown.code == 0, shown.stderr
    command = shown.stdout.split("\ncommand\n", 1)[1].strip()
    assert command.startswith(f"cd {tmp_path} && env ")
    assert "KITE_DATUM_DAY=2024-01-02" in shown.stdout
    subprocess.run(
        ["sh", "-c", command], check=True, env={**os.environ, "CALLS_LOG": str(log)}, timeout=60
    )
    assert calls(log) == ["clean 2024-01-02.csv"]  # exactly that datum's files in its view
    out = Path(shown.stdout.split("\noutputs\n  clean", 1)[1].split()[0])
    assert (out / "2024-01-02.csv").read_text() == "DAY,2024-01-02\n"
    described = json.loads(
        run_kite("debug", "clean", "-d", "day=2024-01-02", "--format", "json").stdout
    )
    assert described["outputs"] == {"clean": str(out)}
    assert not out.exists() or not any(out.iterdir())  # prepared afresh
    assert described["executor"] == "local"
    assert described["pod"] is None
    assert not (tmp_path / "data" / "clean").exists()  # nothing was merged or committed
    assert run_kite("log", "--json").stdout.strip() == "[]"


def test_a_datum_must_be_named_exactly(run_kite, tmp_path: Path) -> None:
    make_project(tmp_path)
    several = run_kite("debug", "clean")
    assert several.code == 64
    assert "stage 'clean' has 3 datums" in several.stderr
    none = run_kite("debug", "clean", "--datum", "day=1999-01-01")
    assert none.code == 64
    assert "its datums: day=2024-01-01" in none.stderr
    local = run_kite("debug", "clean", "--datum", "day=2024-01-01", "--format", "pod")
    assert local.code == 64
    assert "runs locally" in local.stderr
