"""Plan behaviour as cases on disk (tests/golden/plans/README.md): a project, what changes
after a first apply, and the `kite plan` text and JSON that must come of it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import kite

CASES = Path(__file__).parent / "golden" / "plans"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "pipeline.yaml").is_file())
UPDATE = os.environ.get("KITE_GOLDEN_UPDATE") == "1"


def prepared(case: Path, root: Path) -> Path:
    """The case's project in `root`: applied and changed when the case says so."""
    shutil.copy(case / "pipeline.yaml", root / "pipeline.yaml")
    shutil.copytree(case / "data", root / "data")
    then, removed = case / "then", case / "then.removed"
    if not then.is_dir() and not removed.is_file():
        return root  # nothing applied yet
    applied = kite("apply", cwd=root)
    assert applied.code == 0, applied.stderr
    if then.is_dir():
        for source in sorted(then.rglob("*")):
            if source.is_file():
                dest = root / source.relative_to(case / "then")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.unlink(missing_ok=True)  # an output may be a link into the store
                shutil.copy(source, dest)
    for line in removed.read_text().splitlines() if removed.is_file() else []:
        (root / line.strip()).unlink()
    return root


def portable(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's JSON without what changes with the time and place of the run."""
    if plan.get("base") is not None:
        plan["base"] = "<base>"
    plan["pipeline"] = "<pipeline>"
    return plan


@pytest.mark.parametrize("name", NAMES)
def test_plan_of_the_case(name: str, tmp_path: Path) -> None:
    case = CASES / name
    root = prepared(case, tmp_path)
    text = kite("plan", "--full", cwd=root)
    as_json = kite("plan", "--full", "--json", cwd=root)
    assert text.code == as_json.code == 0, text.stderr + as_json.stderr
    got = json.dumps(portable(json.loads(as_json.stdout)), indent=2) + "\n"
    if UPDATE:
        (case / "plan.txt").write_text(text.stdout)
        (case / "plan.json").write_text(got)
    assert text.stdout == (case / "plan.txt").read_text()
    assert got == (case / "plan.json").read_text()


def test_there_are_cases() -> None:
    assert len(NAMES) >= 4
