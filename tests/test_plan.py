"""Every plan decision and reason, on real directories, against committed states built here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from kitecli.errors import KiteError, UsageError
from kitecli.history.state import DatumRecord, EnvState, StageState
from kitecli.plan.plan import DatumPlan, recorded_inputs, select
from kitecli.scan.hashing import digest_bytes
from kitecli.scan.manifest import FileEntry
from kitecli.spec import loader
from tests.conftest import write
from tests.plan_support import World, actions, changed

PIPELINE = """\
kite: 1
name: t
params: {min_temp_c: -60, unused: 1}
environments:
  prod: {data: ./data}
stages:
  clean:
    inputs:
      raw: {path: raw/, each: "{date}/{station}.csv"}
      stations: ref/stations/
    code: [steps/clean.py]
    command: [python3, steps/clean.py, "{{ inputs.raw }}", "{{ params.min_temp_c }}",
              "{{ outputs.clean }}"]
    outputs: {clean: clean/}
    RUNS
  monthly:
    inputs: {clean: {path: clean/, each: "{date}/{station}.csv", by: [month]}}
    command: [python3, steps/monthly.py, "{{ inputs.clean }}", "{{ outputs.monthly }}"]
    outputs: {monthly: monthly/}
  report:
    inputs: {monthly: monthly/}
    command: [python3, steps/report.py, "{{ inputs.monthly }}", "{{ outputs.report }}"]
    outputs: {report: report/}
"""

RAW = {
    "data/raw/2024-01-01/A.csv": "a1",
    "data/raw/2024-01-01/B.csv": "b1",
    "data/raw/2024-01-02/A.csv": "a2",
    "data/raw/2024-02-01/A.csv": "a3",
    "data/ref/stations/stations.csv": "A,B",
    "steps/clean.py": "print('clean')",
}


def produce(stage: str, d: DatumPlan, read: Callable[[str], bytes]) -> dict[str, bytes]:
    """Python stand-ins for the three commands."""
    if stage == "clean":
        return {f"clean/{rel}": read(f"raw/{rel}").upper() for rel in d.files["raw"]}
    if stage == "monthly":
        parts = [read(f"clean/{rel}") for rel in sorted(d.files["clean"])]
        return {f"monthly/{d.key['month']}.csv": b"\n".join(parts)}
    return {"report/summary.txt": d.roots["monthly"].encode()}


def project(root: Path, runs: str = "", files: dict[str, str] | None = None) -> World:
    write(root, {"pipeline.yaml": PIPELINE.replace("RUNS", runs), **RAW, **(files or {})})
    return World(loader.load(root / "pipeline.yaml"), produce, root=root)


def reload(world: World, runs: str = "", text: str | None = None) -> None:
    source = text if text is not None else PIPELINE.replace("RUNS", runs)
    assert world.root is not None
    (world.root / "pipeline.yaml").write_text(source)
    world.pipeline = loader.load(world.root / "pipeline.yaml")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return project(tmp_path)


@pytest.fixture
def applied(world: World) -> World:
    world.apply()
    return world


def test_before_anything_ran_the_first_stage_runs_and_the_rest_is_known_after_apply(
    world: World,
) -> None:
    p = world.plan()
    assert p.base is None
    assert p.env == "prod"
    assert p.pipeline == world.pipeline.digest
    assert changed(p)["clean"] == {
        "date=2024-01-01,station=A": (
            "run",
            ("new input: raw/2024-01-01/A.csv",),
        ),
        "date=2024-01-01,station=B": (
            "run",
            ("new input: raw/2024-01-01/B.csv",),
        ),
        "date=2024-01-02,station=A": (
            "run",
            ("new input: raw/2024-01-02/A.csv",),
        ),
        "date=2024-02-01,station=A": (
            "run",
            ("new input: raw/2024-02-01/A.csv",),
        ),
    }
    assert p.stage("monthly").datums == ()
    assert p.stage("monthly").known_after_apply == ("clean: 4 new datums",)
    assert p.stage("report").known_after_apply == ("monthly: known after apply",)
    assert p.summary["run"] == 4
    assert p.changes


def test_after_apply_everything_is_unchanged(applied: World) -> None:
    p = applied.plan()
    assert not p.changes
    assert p.summary == {
        "run": 0,
        "cached": 0,
        "restore": 0,
        "delete": 0,
        "skip": 0,
        "pending": 0,
        "wait": 0,
        "unchanged": 4 + 2 + 1,
    }
    assert all(s.known_after_apply == () for s in p.stages)
    assert (applied.root / "data/monthly/2024-01.csv").read_bytes() == b"A1\nB1\nA2"  # type: ignore[operator]


def test_input_changed_runs_that_datum_and_its_downstream_is_pending(applied: World) -> None:
    write(applied.root, {"data/raw/2024-01-01/A.csv": "a1 fixed"})  # type: ignore[arg-type]
    assert changed(applied.plan()) == {
        "clean": {
            "date=2024-01-01,station=A": ("run", ("input changed: raw/2024-01-01/A.csv",)),
        },
        "monthly": {
            "month=2024-01": ("pending", ("known after apply: clean/2024-01-01/A.csv",)),
        },
        "report": {"": ("pending", ("known after apply: monthly/",))},
    }
    applied.apply()
    assert not applied.plan().changes


def test_whole_directory_input_changed(applied: World) -> None:
    write(applied.root, {"data/ref/stations/stations.csv": "A,B,C"})  # type: ignore[arg-type]
    p = applied.plan()
    assert set(actions(p, "clean").values()) == {"run"}
    assert {d.reasons for d in p.stage("clean").datums} == {("input changed: ref/stations/",)}


def test_new_input_file(applied: World) -> None:
    write(applied.root, {"data/raw/2024-02-01/B.csv": "b3"})  # type: ignore[arg-type]
    p = applied.plan()
    assert changed(p)["clean"] == {
        "date=2024-02-01,station=B": (
            "run",
            ("new input: raw/2024-02-01/B.csv",),
        )
    }
    assert p.stage("monthly").known_after_apply == ("clean: 1 new datum",)
    assert changed(p)["monthly"] == {}
    applied.apply()
    assert (applied.root / "data/monthly/2024-02.csv").read_bytes() == b"A3\nB3"  # type: ignore[operator]


def test_input_gone_deletes_the_files_the_datum_owns(applied: World) -> None:
    (applied.root / "data/raw/2024-02-01/A.csv").unlink()  # type: ignore[operator]
    p = applied.plan()
    gone = p.stage("clean").datums[-1]
    assert (gone.id, gone.action, gone.reasons) == (
        "date=2024-02-01,station=A",
        "delete",
        ("input removed: raw/2024-02-01/A.csv",),
    )
    assert list(gone.outputs) == ["clean/2024-02-01/A.csv"]
    assert gone.fingerprint is None
    assert changed(p)["monthly"] == {
        "month=2024-02": ("pending", ("known after apply: clean/2024-02-01/A.csv",))
    }
    applied.apply()
    after = applied.plan()
    assert not after.changes
    assert "month=2024-02" not in actions(after, "monthly")
    assert not (applied.root / "data/monthly/2024-02.csv").exists()  # type: ignore[operator]


def test_command_change_is_a_stage_definition_change(applied: World) -> None:
    text = PIPELINE.replace("RUNS", "").replace(
        '[python3, steps/clean.py, "{{ inputs.raw }}"',
        '[python3, -O, steps/clean.py, "{{ inputs.raw }}"',
    )
    reload(applied, text=text)
    p = applied.plan()
    assert {d.action for d in p.stage("clean").datums} == {"run"}
    assert {d.reasons for d in p.stage("clean").datums} == {("stage definition changed: command",)}
    assert set(actions(p, "monthly").values()) == {"pending"}


def test_code_change(applied: World) -> None:
    write(applied.root, {"steps/clean.py": "print('clean v2')"})  # type: ignore[arg-type]
    p = applied.plan()
    assert {d.reasons for d in p.stage("clean").datums} == {("code changed: steps/clean.py",)}


def test_param_change_and_unreferenced_param(applied: World) -> None:
    reload(applied, text=PIPELINE.replace("RUNS", "").replace("unused: 1", "unused: 2"))
    assert not applied.plan().changes
    reload(applied, text=PIPELINE.replace("RUNS", "").replace("min_temp_c: -60", "min_temp_c: -50"))
    p = applied.plan()
    assert {d.reasons for d in p.stage("clean").datums} == {("param changed: min_temp_c",)}
    assert {d.action for d in p.stage("monthly").datums} == {"pending"}


HOW_IT_RUNS = """resources: {cpu: "4", memory: 8Gi}
    concurrency: 16
    batch: 4
    retries: {limit: 5, backoff: 30s}
    timeout: 2h
    identity: kite-clean
    node_selector: {pool: big}
    tolerations: [{key: gpu, operator: Exists}]
    executor: kubernetes"""


def test_how_a_stage_runs_plans_nothing(applied: World) -> None:
    reload(applied, HOW_IT_RUNS)
    assert applied.pipeline.stages["clean"].concurrency == 16
    p = applied.plan()
    assert not p.changes
    assert p.summary["unchanged"] == 7


def test_last_attempt_failed(applied: World) -> None:
    clean = applied.state.stages["clean"]
    kid = "date=2024-01-02,station=A"
    failed = dataclasses.replace(clean.datums[kid], status="failed", outputs={})
    applied.state = dataclasses.replace(
        applied.state,
        stages={
            **applied.state.stages,
            "clean": dataclasses.replace(clean, datums={**clean.datums, kid: failed}),
        },
    )
    applied.cache.clear()
    p = applied.plan()
    assert changed(p)["clean"] == {kid: ("run", ("last attempt failed",))}


def test_outputs_modified_or_missing_on_disk_are_restored(applied: World) -> None:
    root = applied.root
    assert root is not None
    (root / "data/clean/2024-01-01/A.csv").write_text("tampered")
    (root / "data/clean/2024-01-02/A.csv").unlink()
    p = applied.plan()
    assert changed(p)["clean"] == {
        "date=2024-01-01,station=A": (
            "restore",
            ("outputs modified on disk: clean/2024-01-01/A.csv",),
        ),
        "date=2024-01-02,station=A": (
            "restore",
            ("outputs missing on disk: clean/2024-01-02/A.csv",),
        ),
    }
    restore = p.stage("clean").datums[0]
    assert list(restore.outputs) == ["clean/2024-01-01/A.csv"]
    assert changed(p)["monthly"] == {
        "month=2024-01": (
            "pending",
            (
                "known after apply: clean/2024-01-01/A.csv",
                "known after apply: clean/2024-01-02/A.csv",
            ),
        )
    }
    applied.apply()
    assert (root / "data/clean/2024-01-01/A.csv").read_text() == "A1"
    assert not applied.plan().changes


def test_reverting_a_change_comes_from_the_run_cache(applied: World) -> None:
    root = applied.root
    assert root is not None
    write(root, {"data/raw/2024-01-01/A.csv": "changed"})
    applied.apply()
    write(root, {"data/raw/2024-01-01/A.csv": "a1"})
    p = applied.plan()
    assert changed(p)["clean"] == {
        "date=2024-01-01,station=A": ("cached", ("input changed: raw/2024-01-01/A.csv",)),
    }
    cached = p.stage("clean").datums[0]
    assert dict(cached.outputs) == {"clean/2024-01-01/A.csv": FileEntry(digest_bytes(b"A1"), 2)}
    assert changed(p)["monthly"] == {
        "month=2024-01": ("pending", ("known after apply: clean/2024-01-01/A.csv",))
    }


def test_forced_runs_even_when_unchanged_and_bypasses_the_cache(applied: World) -> None:
    p = applied.plan(force=lambda stage, key: stage == "clean" and key["date"] == "2024-01-02")
    assert changed(p)["clean"] == {"date=2024-01-02,station=A": ("run", ("forced",))}


def test_stage_level_when_false_skips_every_datum(world: World) -> None:
    reload(world, "when: 'params.min_temp_c > 0'")
    p = world.plan()
    assert {d.action for d in p.stage("clean").datums} == {"skip"}
    assert {d.reasons for d in p.stage("clean").datums} == {
        ("when params.min_temp_c > 0 is false",)
    }
    assert p.changes
    world.apply()
    again = world.plan()
    assert {d.action for d in again.stage("clean").datums} == {"skip"}
    assert not again.changes


def test_per_datum_when_over_datum_fields(world: World) -> None:
    reload(world, "when: \"datum.station != 'B' && datum.month == '2024-01'\"")
    p = world.plan()
    assert actions(p, "clean") == {
        "date=2024-01-01,station=A": "run",
        "date=2024-01-01,station=B": "skip",
        "date=2024-01-02,station=A": "run",
        "date=2024-02-01,station=A": "skip",
    }


def test_when_that_is_not_a_condition_is_an_error(world: World) -> None:
    reload(world, "when: 'params.min_temp_c + 1'")
    with pytest.raises(KiteError, match="not true or false"):
        world.plan()


def test_select_one_stage_ignores_upstream_changes(applied: World) -> None:
    write(applied.root, {"data/raw/2024-01-01/A.csv": "a1 fixed"})  # type: ignore[arg-type]
    only = applied.plan(stages=["monthly"])
    assert [s.name for s in only.stages] == ["monthly"]
    assert not only.changes
    down = applied.plan(stages=["clean"], downstream=True)
    assert [s.name for s in down.stages] == ["clean", "monthly", "report"]
    assert down.summary["pending"] == 2


def test_select_by_base_name_takes_every_matrix_variant(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": """\
kite: 1
stages:
  train:
    matrix: {model: [a, b]}
    command: [echo, "{{ matrix.model }}"]
    outputs: {out: "models/{{ matrix.model }}/"}
  score:
    inputs: {m: models/}
    command: [echo]
    outputs: {out: scores/}
"""
        },
    )
    pipeline = loader.load(tmp_path / "pipeline.yaml")
    assert select(pipeline, ["train"], downstream=False) == ("train[model=a]", "train[model=b]")
    assert select(pipeline, ["train[model=b]"], downstream=True) == ("train[model=b]", "score")
    with pytest.raises(UsageError, match="no stage named 'trian'") as err:
        select(pipeline, ["trian"], downstream=False)
    assert err.value.hint == "did you mean 'train'?"


def test_source_stage_generates_new_days_and_drops_old_ones(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.yaml": """\
kite: 1
stages:
  fetch:
    datums: {date: {from: 2024-01-03, to: today}}
    command: [echo, "{{ datum.date }}", "{{ outputs.raw }}"]
    outputs: {raw: raw/}
"""
        },
    )
    world = World(
        loader.load(tmp_path / "pipeline.yaml"),
        lambda stage, d, read: {f"raw/{d.key['date']}.csv": d.key["date"].encode()},
        root=tmp_path,
    )
    p = world.plan()
    assert changed(p)["fetch"] == {f"date=2024-01-0{n}": ("run", ("new datum",)) for n in (3, 4, 5)}
    world.apply()
    reload_text = (tmp_path / "pipeline.yaml").read_text().replace("2024-01-03", "2024-01-04")
    (tmp_path / "pipeline.yaml").write_text(reload_text)
    world.pipeline = loader.load(tmp_path / "pipeline.yaml")
    p = world.plan()
    assert changed(p)["fetch"] == {"date=2024-01-03": ("delete", ("no longer generated",))}
    assert list(p.stage("fetch").datums[0].outputs) == ["raw/2024-01-03.csv"]


def test_recorded_inputs_name_files_and_directories(world: World) -> None:
    stage = world.pipeline.stages["clean"]
    datum = world.plan().stage("clean").datums[0].datum
    found = recorded_inputs(stage, datum)
    assert sorted(found) == ["raw/2024-01-01/A.csv", "ref/stations/"]


def test_reasons_are_capped(tmp_path: Path) -> None:
    files = {f"data/raw/2024-01-01/S{i:02}.csv": str(i) for i in range(30)}
    world = project(tmp_path, files=files)
    world.apply()
    write(tmp_path, {p: v + "!" for p, v in files.items()})
    p = world.plan()
    month = next(d for d in p.stage("monthly").datums if d.key == {"month": "2024-01"})
    assert month.action == "pending"
    assert len(month.reasons) == 21
    assert month.reasons[-1] == "and 10 more"


def test_changed_definition_without_recorded_parts(applied: World) -> None:
    clean = applied.state.stages["clean"]
    applied.state = dataclasses.replace(
        applied.state,
        stages={**applied.state.stages, "clean": StageState("b3:old", {}, clean.datums)},
    )
    write(applied.root, {"steps/clean.py": "print('v3')"})  # type: ignore[arg-type]
    reasons = {d.reasons for d in applied.plan().stage("clean").datums}
    assert reasons == {("stage definition changed",)}


def test_a_record_without_inputs_still_gives_a_reason(world: World) -> None:
    first = world.plan().stage("clean").datums[0]
    record = DatumRecord(first.key, "b3:stale", "succeeded")
    world.state = EnvState(
        env="prod",
        stages={"clean": StageState("", {}, {first.id: record})},
    )
    decided = world.plan().stage("clean").datums[0]
    assert decided.action == "run"
    assert decided.reasons == ("new input: raw/2024-01-01/A.csv", "new input: ref/stations/")


def test_a_new_datum_of_whole_directories_names_them(world: World) -> None:
    write(world.root, {"data/monthly/2024-01.csv": "x"})  # type: ignore[arg-type]
    p = world.plan(stages=["report"])
    assert changed(p) == {"report": {"": ("run", ("new input: monthly/",))}}
