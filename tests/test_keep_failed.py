"""`kite apply --keep-failed` through `kite apply`: a failed attempt's folder, command and
environment are kept under .kite/kept/RUN/, the kept command runs it again by hand, and a
datum that succeeded leaves nothing there."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e import make_project


def test_a_failed_attempt_is_kept_with_a_command_that_runs_it_again(
    tmp_path: Path, run_kite
) -> None:
    calls = make_project(tmp_path)
    env = {"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"}
    failed = run_kite("apply", "--keep-failed", env=env)
    assert failed.code == 1, failed.stderr
    run = json.loads(run_kite("show", "last", "--json").stdout)
    assert run["options"] == {"keep_failed": True}
    bad = [a for a in run["attempts"] if a["status"] == "failed"]
    assert [a["key"] for a in bad] == [{"day": "2024-01-02"}]
    kept = bad[0]["kept"]
    assert kept == f".kite/kept/{run['id']}/clean/day=2024-01-02/attempt-1"
    assert all(a["kept"] is None for a in run["attempts"] if a["status"] != "failed")
    assert f"kept: {kept}/ (run it again by hand: sh {kept}/command.sh)" in failed.stderr
    assert f"kept: {kept}/" in run_kite("show", "last").stdout
    # only the failed datum was kept: the view holds exactly its input file
    folder = tmp_path / kept
    assert sorted(p.name for p in (tmp_path / ".kite/kept" / run["id"] / "clean").iterdir()) == [
        "day=2024-01-02"
    ]
    view = folder / "folder/in/raw"
    assert [p.name for p in view.iterdir()] == ["2024-01-02.csv"]
    assert (view / "2024-01-02.csv").read_text() == "day,2024-01-02\n"
    variables = (folder / "env").read_text()
    assert "export KITE_DATUM_DAY=2024-01-02\n" in variables
    assert str(folder.resolve() / "folder") in variables  # the paths lead to the kept copy
    assert ".kite/work" not in (folder / "command.sh").read_text()
    # the kept command, run by hand, fails as the attempt did, and reads the kept view
    again = subprocess.run(
        ["sh", str(folder / "command.sh")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 7, again.stderr
    assert "clean processing 2024-01-02.csv" in again.stdout
    assert calls.read_text().splitlines()[-1] == "clean 2024-01-02.csv"


def test_without_keep_failed_or_on_success_nothing_is_kept(tmp_path: Path, run_kite) -> None:
    calls = make_project(tmp_path)
    env = {"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"}
    assert run_kite("apply", env=env).code == 1
    assert not (tmp_path / ".kite/kept").exists()
    assert run_kite("apply", "--keep-failed", env={"CALLS_LOG": str(calls)}).code == 0
    run = json.loads(run_kite("show", "last", "--json").stdout)
    assert not (tmp_path / ".kite/kept" / run["id"]).exists()


def test_a_folder_that_cannot_be_kept_is_said_and_the_run_goes_on(tmp_path: Path, run_kite) -> None:
    calls = make_project(tmp_path)
    (tmp_path / ".kite").mkdir()
    (tmp_path / ".kite/kept").write_text("a file where kite keeps folders\n")
    env = {"CALLS_LOG": str(calls), "STEP_FAIL": "2024-01-02.csv"}
    failed = run_kite("apply", "--keep-failed", env=env)
    assert failed.code == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    assert "kite: could not keep .kite/kept/" in failed.stderr
    assert sorted(p.name for p in (tmp_path / "data/clean").iterdir()) == [
        "2024-01-01.csv",
        "2024-01-03.csv",
    ]
    run = json.loads(run_kite("show", "last", "--json").stdout)
    assert all(a["kept"] is None for a in run["attempts"])
