"""One changed file among 100,000: exactly its datum runs, exactly its downstream is pending."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kitecli.history.state import DatumRecord, EnvState, StageState
from kitecli.plan import fingerprint
from kitecli.plan.datums import stage_datums
from kitecli.plan.plan import make_plan, recorded_inputs
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import FileEntry, from_files
from kitecli.spec import loader
from kitecli.spec.model import Pipeline
from tests.conftest import write

FILES = 100_000
TODAY = dt.date(2024, 6, 1)
PIPELINE = """\
kite: 1
stages:
  clean:
    inputs: {raw: {path: raw/, each: "{day}/{n}.csv"}}
    command: [clean, "{{ inputs.raw }}", "{{ outputs.clean }}"]
    outputs: {clean: clean/}
  daily:
    inputs: {clean: {path: clean/, each: "{day}/{n}.csv", by: [day]}}
    command: [daily, "{{ inputs.clean }}", "{{ outputs.daily }}"]
    outputs: {daily: daily/}
"""


def entry(text: str) -> FileEntry:
    return FileEntry(digest_bytes(text.encode()), len(text))


def commit(pipeline: Pipeline, name: str, files: dict[str, FileEntry]) -> StageState:
    """What `kite apply` would record after running every datum of `name` over `files`:
    each datum's output is the same relative path under the stage's output directory."""
    stage = pipeline.stages[name]
    definition = fingerprint.definition(stage, params={}, code={})
    records = {}
    for datum in stage_datums(stage, from_files(files), today=TODAY).datums:
        rels = [rel for found in datum.files.values() for rel in found]
        outputs = {f"{stage.outputs[0].path}/{rel}": entry(f"{name}:{rel}") for rel in rels}
        files.update(outputs)
        records[datum.id] = DatumRecord(
            datum.key,
            fingerprint.datum_fingerprint(definition.fingerprint, datum),
            "succeeded",
            recorded_inputs(stage, datum),
            outputs,
        )
    return StageState(definition.fingerprint, definition.parts, records)


@pytest.mark.slow
def test_one_changed_file_among_100000(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE})
    pipeline = loader.load(tmp_path / "pipeline.yaml")
    files = {f"raw/2024-{1 + i // 10000:02}-01/{i}.csv": entry(str(i)) for i in range(FILES)}
    stages = {name: commit(pipeline, name, files) for name in ("clean", "daily")}
    state = EnvState(env="default", commit="b3:c1", stages=stages)
    assert len(stages["clean"].datums) == FILES
    assert len(stages["daily"].datums) == 10

    files["raw/2024-03-01/23456.csv"] = entry("a new value")
    p = make_plan(
        pipeline, env="default", state=state, data=from_files(files), code={}, today=TODAY
    )
    clean = [d for d in p.stage("clean").datums if d.action != "unchanged"]
    assert [(d.id, d.action, d.reasons) for d in clean] == [
        ("day=2024-03-01,n=23456", "run", ("input changed: raw/2024-03-01/23456.csv",))
    ]
    daily = [d for d in p.stage("daily").datums if d.action != "unchanged"]
    assert [(d.id, d.action, d.reasons) for d in daily] == [
        ("day=2024-03-01", "pending", ("known after apply: clean/2024-03-01/23456.csv",))
    ]
    assert p.summary["unchanged"] == FILES - 1 + 9
    assert p.base == "b3:c1"
