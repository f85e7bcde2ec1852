"""The plan's JSON: valid against schemas/plan.schema.json, saved and loaded back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from kitecli.errors import ProjectError
from kitecli.plan import planfile
from tests.conftest import write
from tests.plan_support import World
from tests.test_plan import project


def check(data: object) -> None:
    Draft202012Validator.check_schema(planfile.schema())
    assert planfile.problems(data) == []


@pytest.fixture
def busy(tmp_path: Path) -> World:
    """A world where the next plan has a run, a cached, a restore, a delete and pendings."""
    world = project(tmp_path)
    world.apply()
    write(tmp_path, {"data/raw/2024-01-01/A.csv": "changed"})
    world.apply()
    write(
        tmp_path,
        {
            "data/raw/2024-01-01/A.csv": "a1",  # back: from the run cache
            "data/raw/2024-01-01/B.csv": "b1 fixed",  # run
            "data/clean/2024-01-02/A.csv": "tampered",  # restore
        },
    )
    (tmp_path / "data/raw/2024-02-01/A.csv").unlink()  # delete
    return world


def test_the_issue_form(busy: World) -> None:
    p = busy.plan()
    data = planfile.to_json(p)
    check(data)
    assert list(data) == ["kite_plan", "env", "base", "pipeline", "summary", "warnings", "stages"]
    assert data["summary"] == {
        "run": 1,
        "cached": 1,
        "restore": 1,
        "delete": 1,
        "skip": 0,
        "pending": 3,
        "wait": 0,
        "unchanged": 0,
    }
    clean = data["stages"][0]
    assert clean["name"] == "clean"
    assert clean["datums"][0] == {
        "key": {"date": "2024-01-01", "station": "A"},
        "action": "cached",
        "reasons": ["input changed: raw/2024-01-01/A.csv"],
    }
    assert [d["action"] for d in clean["datums"]] == ["cached", "run", "restore", "delete"]


def test_unchanged_datums_are_counted_and_listed_only_with_full(tmp_path: Path) -> None:
    world = project(tmp_path)
    world.apply()
    p = world.plan()
    short, full = planfile.to_json(p), planfile.to_json(p, full=True)
    check(short)
    check(full)
    assert short["stages"][0]["summary"]["unchanged"] == 4
    assert short["stages"][0]["datums"] == []
    assert [d["action"] for d in full["stages"][0]["datums"]] == ["unchanged"] * 4


def test_a_saved_plan_loads_back_as_the_same_value(busy: World, tmp_path: Path) -> None:
    p = busy.plan()
    target = tmp_path / "plan.json"
    planfile.save(p, target)
    check(json.loads(target.read_text()))
    assert planfile.load(target) == p
    first = planfile.load(target)
    assert first.stage("clean").datums[1].files == p.stage("clean").datums[1].files


def test_the_first_plan_validates(tmp_path: Path) -> None:
    p = project(tmp_path).plan()
    check(planfile.to_json(p, full=True, details=True))
    assert planfile.to_json(p)["base"] is None
    assert planfile.to_json(p)["stages"][1]["known_after_apply"] == ["clean: 4 new datums"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not a plan"),
        ('{"hello": 1}', "is not a kite plan"),
        ('{"kite_plan": 2}', "format 2"),
        ('{"kite_plan": 1, "env": "prod"}', "not a valid plan"),
    ],
)
def test_broken_plan_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    target = tmp_path / "plan.json"
    target.write_text(text)
    with pytest.raises(ProjectError, match=message) as err:
        planfile.load(target)
    assert err.value.hint is not None
    assert "kite plan --out" in err.value.hint


def test_printed_json_is_not_a_saved_plan(tmp_path: Path) -> None:
    world = project(tmp_path / "p")
    target = tmp_path / "plan.json"
    target.write_text(json.dumps(planfile.to_json(world.plan(), full=True)))
    with pytest.raises(ProjectError, match="without what apply needs"):
        planfile.load(target)
