"""Fingerprints: what is in them, what is not, and that they name the part that changed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kitecli.errors import KiteError
from kitecli.plan import fingerprint as fp
from kitecli.plan.datums import Datum
from kitecli.scan.manifest import FileEntry
from kitecli.spec.model import Input, Resources, Retries, Stage

CODE = {"steps/clean.py": "b3:" + "1" * 64}
PARAMS = {"min_temp_c": -60, "unused": 1}


def base_stage(**changes: Any) -> Stage:
    stage = Stage(
        name="clean",
        base="clean",
        command=("python", "steps/clean.py", "{{ inputs.raw }}"),
        inputs=(Input("raw", "raw", "{date}.csv"),),
        image="python:3.12-slim",
        env={"TZ": "UTC"},
        code=("steps/clean.py",),
        params=("min_temp_c",),
    )
    return dataclasses.replace(stage, **changes)


def define(stage: Stage, params: dict[str, Any] = PARAMS, code: dict[str, str] = CODE) -> Any:
    return fp.definition(stage, params=params, code=code)


def test_definition_is_deterministic_and_has_named_parts() -> None:
    first, again = define(base_stage()), define(base_stage())
    assert first == again
    assert set(first.parts) == {
        "command",
        "image",
        "env",
        "version",
        "matrix",
        "params.min_temp_c",
        "code:steps/clean.py",
    }
    assert first.parts["code:steps/clean.py"] == CODE["steps/clean.py"]
    assert first.fingerprint.startswith("b3:")
    assert len(first.fingerprint) == 67


@pytest.mark.parametrize(
    ("changes", "params", "code", "part"),
    [
        ({"command": ("python", "steps/clean.py", "-v")}, PARAMS, CODE, "command"),
        ({"image": "python:3.13-slim"}, PARAMS, CODE, "image"),
        ({"env": {"TZ": "Europe/Paris"}}, PARAMS, CODE, "env"),
        ({"version": "2"}, PARAMS, CODE, "version"),
        ({}, {"min_temp_c": -50}, CODE, "params.min_temp_c"),
        ({}, PARAMS, {"steps/clean.py": "b3:" + "2" * 64}, "code:steps/clean.py"),
        ({"matrix": {"alpha": 1}}, PARAMS, CODE, "matrix"),
    ],
)
def test_what_produces_the_output_is_in_the_fingerprint(
    changes: dict[str, Any], params: dict[str, Any], code: dict[str, str], part: str
) -> None:
    before = define(base_stage())
    after = define(base_stage(**changes), params, code)
    assert after.fingerprint != before.fingerprint
    assert fp.changed_parts(before.parts, after.parts) == [part]


@pytest.mark.parametrize(
    "changes",
    [
        {"resources": Resources(cpu="4", memory="8Gi", gpu=1)},
        {"concurrency": 32},
        {"batch": 10},
        {"retries": Retries(limit=5, backoff=10.0)},
        {"timeout": 3600.0},
        {"identity": "kite-etl"},
        {"node_selector": {"pool": "big"}},
        {"tolerations": ({"key": "gpu", "operator": "Exists"},)},
        {"executor": "kubernetes"},
        {"description": "something else"},
    ],
)
def test_how_it_runs_is_not_in_the_fingerprint(changes: dict[str, Any]) -> None:
    assert define(base_stage(**changes)) == define(base_stage())


def test_unreferenced_params_do_not_count_and_matrix_overrides() -> None:
    assert define(base_stage(), {**PARAMS, "unused": 2}) == define(base_stage())
    variant = base_stage(matrix={"min_temp_c": -10})
    assert fp.stage_params(variant, PARAMS) == {"min_temp_c": -10}
    assert (
        define(variant).parts["params.min_temp_c"]
        == define(base_stage(), {"min_temp_c": -10}).parts["params.min_temp_c"]
    )


def test_a_newly_referenced_param_is_a_changed_part() -> None:
    before = define(base_stage())
    after = define(base_stage(params=("max_temp_c", "min_temp_c")), {**PARAMS, "max_temp_c": 60})
    assert fp.changed_parts(before.parts, after.parts) == ["params.max_temp_c"]


def test_code_digest_is_required() -> None:
    with pytest.raises(KiteError, match=r"steps/clean\.py"):
        define(base_stage(), PARAMS, {})


def entry(n: int) -> FileEntry:
    return FileEntry(f"b3:{n:064x}", n)


def test_datum_fingerprint_covers_key_files_and_roots() -> None:
    definition = define(base_stage()).fingerprint
    datum = Datum({"date": "2024-01-01"}, {"raw": {"2024-01-01.csv": entry(1)}}, {"ref": "b3:r"})
    same = fp.datum_fingerprint(definition, datum)
    assert same == fp.datum_fingerprint(definition, dataclasses.replace(datum))
    variants = [
        dataclasses.replace(datum, key={"date": "2024-01-02"}),
        dataclasses.replace(datum, files={"raw": {"2024-01-01.csv": entry(2)}}),
        dataclasses.replace(datum, files={"raw": {"renamed.csv": entry(1)}}),
        dataclasses.replace(datum, roots={"ref": "b3:other"}),
    ]
    assert len({same, *(fp.datum_fingerprint(definition, v) for v in variants)}) == 5
    other_definition = define(base_stage(version="2")).fingerprint
    assert fp.datum_fingerprint(other_definition, datum) != same


def test_size_alone_is_not_in_the_datum_fingerprint() -> None:
    definition = define(base_stage()).fingerprint
    one = Datum({}, {"raw": {"a": FileEntry("b3:x", 1)}})
    two = Datum({}, {"raw": {"a": FileEntry("b3:x", 2)}})
    assert fp.datum_fingerprint(definition, one) == fp.datum_fingerprint(definition, two)
