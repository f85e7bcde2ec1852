"""The committed state as read (state.Records, decoded on demand) plans exactly as the state
built in memory: the shortcut for unchanged datums changes no decision, reason or field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kitecli.history import state as kite_state
from kitecli.history.state import DatumRecord, EnvState, Records, StageState
from kitecli.scan.manifest import FileEntry
from tests.conftest import write
from tests.plan_support import World
from tests.test_plan import project, reload


def as_read(state: EnvState) -> EnvState:
    """The state as `kite plan` gets it from the metadata repo: through its JSON form."""
    read = kite_state.from_json(kite_state.to_json(state))
    assert all(isinstance(s.datums, Records) for s in read.stages.values())
    return read


def both(world: World, **options: object) -> None:
    """Plan against the state in memory and against the same state as read: equal plans."""
    in_memory = world.plan(state=world.state, **options)
    read = world.plan(state=as_read(world.state), **options)
    assert read == in_memory
    for mine, theirs in zip(read.stages, in_memory.stages, strict=True):
        assert [d.id for d in mine.datums] == [d.id for d in theirs.datums]
        assert [d.was for d in mine.datums] == [d.was for d in theirs.datums]


@pytest.fixture
def applied(tmp_path: Path) -> World:
    world = project(tmp_path)
    world.apply()
    return world


def test_unchanged(applied: World) -> None:
    plan = applied.plan(state=as_read(applied.state))
    assert plan.summary["unchanged"] == 7
    both(applied)


def test_input_changed_and_new_and_removed(applied: World) -> None:
    root = applied.root
    assert root is not None
    write(root, {"data/raw/2024-01-01/A.csv": "other", "data/raw/2024-01-03/B.csv": "b3"})
    (root / "data/raw/2024-02-01/A.csv").unlink()
    both(applied)


def test_outputs_modified_or_missing(applied: World) -> None:
    root = applied.root
    assert root is not None
    (root / "data/clean/2024-01-01/A.csv").write_text("tampered")
    (root / "data/clean/2024-01-02/A.csv").unlink()
    plan = applied.plan(state=as_read(applied.state))
    assert plan.summary["restore"] == 2
    both(applied)


def test_a_failed_attempt_and_a_changed_command(applied: World) -> None:
    clean = applied.state.stages["clean"]
    kid = "date=2024-01-02,station=A"
    failed = dataclasses.replace(clean.datums[kid], status="failed")
    stages = {
        **applied.state.stages,
        "clean": dataclasses.replace(clean, datums={**clean.datums, kid: failed}),
    }
    applied.state = dataclasses.replace(applied.state, stages=stages)
    both(applied)
    assert applied.root is not None
    text = (applied.root / "pipeline.yaml").read_text()
    reload(applied, text=text.replace("steps/monthly.py", "steps/m.py"))
    both(applied)


def test_forced_and_selected(applied: World) -> None:
    both(applied, force=lambda stage, key: key.get("station") == "B")
    both(applied, stages=("monthly",))


def test_records_are_a_mapping_decoded_on_demand() -> None:
    record = DatumRecord(
        {"n": "1"}, "b3:f", "succeeded", {"raw/1.csv": "b3:i"}, {"o/1": FileEntry("b3:o", 3)}
    )
    state = EnvState("prod", stages={"s": StageState("b3:d", {}, {"n=1": record})})
    table = as_read(state).stages["s"].datums
    assert isinstance(table, Records)
    assert len(table) == 1
    assert list(table) == ["n=1"]
    assert "n=1" in table
    assert "n=2" not in table
    raw = table.raw["n=1"]
    assert (raw["fingerprint"], raw["status"], raw["outputs"]) == (
        "b3:f",
        "succeeded",
        {"o/1": ["b3:o", 3]},
    )
    assert table["n=1"] == record
    assert table["n=1"] is table["n=1"]  # built once
    assert table == {"n=1": record}
    assert as_read(state) == state
    with pytest.raises(KeyError):
        table["n=2"]
