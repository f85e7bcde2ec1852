"""An error kite did not expect, during an apply (a fault injected into a real `kite`
process through sitecustomize): one line and a hint instead of a traceback, the run
recorded as failed with what finished, scratch removed, earlier outputs intact."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.e2e import calls, make_project
from tests.helpers import kite, write

FAULT = """\
import kitecli.run.runner as runner

_begin = runner.Runner.begin_stage


def _faulty(self, stage, work):
    if stage.name == "size":
        raise RuntimeError("injected fault")
    return _begin(self, stage, work)


runner.Runner.begin_stage = _faulty
"""


def test_an_unexpected_error_ends_as_a_recorded_failed_run(tmp_path: Path) -> None:
    project = tmp_path / "project"
    log = make_project(project, days=("2024-01-01", "2024-01-02"))
    write(tmp_path / "fault", {"sitecustomize.py": FAULT})
    # the fault first, then the kite under test (not an installed one)
    path = [str(tmp_path / "fault"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {"CALLS_LOG": str(log), "PYTHONPATH": os.pathsep.join(path)}
    failed = kite("apply", cwd=project, env=env, fresh=True)
    assert failed.code != 0
    assert "error: internal error: RuntimeError: injected fault" in failed.stderr
    assert "Traceback" not in failed.stderr
    runs = json.loads(kite("log", "--json", cwd=project).stdout)
    assert [r["status"] for r in runs] == ["failed"]
    assert runs[0]["counts"] == {"succeeded": 2}  # clean's two datums, committed
    assert sorted(p.name for p in (project / "data/clean").iterdir()) == [
        "2024-01-01.csv",
        "2024-01-02.csv",
    ]
    for scratch in ("tmp", "work"):
        left = project / ".kite" / scratch
        assert not left.exists() or not any(left.rglob("*")), list(left.rglob("*"))
    calls(log)
    again = kite("apply", cwd=project, env={"CALLS_LOG": str(log)})
    assert again.code == 0, again.stderr
    assert sorted(line.split()[0] for line in calls(log)) == ["size", "size", "total"]
