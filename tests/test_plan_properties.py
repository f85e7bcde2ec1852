"""Invariants: applying plan after plan over any edits ends where a fresh start ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitecli.spec import loader
from tests.conftest import write
from tests.plan_support import World
from tests.test_plan import PIPELINE, produce

PATHS = [f"raw/2024-0{m}-0{d}/{s}.csv" for m in (1, 2) for d in (1, 2) for s in "AB"]
EDITS = st.lists(
    st.tuples(st.sampled_from(PATHS), st.one_of(st.none(), st.sampled_from(["x", "y", "z"]))),
    min_size=1,
    max_size=6,
)


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    write(root, {"pipeline.yaml": PIPELINE.replace("RUNS", ""), "steps/clean.py": "pass"})
    return root


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=EDITS, second=EDITS)
def test_incremental_applies_end_where_a_fresh_start_ends(
    pipeline_dir: Path, first: list[tuple[str, str | None]], second: list[tuple[str, str | None]]
) -> None:
    pipeline = loader.load(pipeline_dir / "pipeline.yaml")
    world = World(pipeline, produce)
    world.write("ref/stations/s.csv", b"A,B")
    for edits in (first, second):
        for path, content in edits:
            if content is None:
                world.remove(path)
            else:
                world.write(path, content.encode())
        world.apply()
        assert not world.plan().changes
    fresh = World(pipeline, produce)
    for path, entry in world.files.items():
        if path.startswith(("raw/", "ref/")):
            fresh.files[path] = entry
    fresh.blobs = dict(world.blobs)
    fresh.apply()
    assert fresh.files == world.files
