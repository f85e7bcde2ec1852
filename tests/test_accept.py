"""Acceptance checks (kitecli/run/accept.py) on real files; end to end in test_gates_e2e.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kitecli.run import accept
from kitecli.scan.manifest import FileEntry
from kitecli.spec import gates
from kitecli.spec.model import Accept

DIGEST = "b3:" + "1" * 64


def entries(*sizes: int) -> dict[str, FileEntry]:
    return {f"f{i}.csv": FileEntry(DIGEST, size) for i, size in enumerate(sizes)}


@pytest.mark.parametrize(
    ("gate", "sizes", "check", "message"),
    [
        (Accept(min_files=2), (1,), "min_files", "1 file written, at least 2 required"),
        (Accept(max_files=1), (1, 1), "max_files", "2 files written, at most 1 allowed"),
        (Accept(max_bytes=10), (6, 6), "max_bytes", "12 bytes written, at most 10 allowed"),
        (Accept(rules=("count > 0", "bytes < 5")), (6,), "rules[1]", "`bytes < 5` is false"),
        (
            Accept(rules=("files.all(f, f.path.endsWith('.json'))",)),
            (1,),
            "rules[0]",
            "is false",
        ),
        (Accept(rules=("files[0].sizee > 0",)), (1,), "rules[0]", "no such key: 'sizee'"),
        (Accept(rules=("count",)), (1,), "rules[0]", "gave 1, not true or false"),
    ],
)
def test_manifest_checks_fail_with_the_check_and_why(
    gate: Accept, sizes: tuple[int, ...], check: str, message: str
) -> None:
    found = accept.check_manifest("out", gate, entries(*sizes), {})
    assert found is not None
    assert found.check == check
    assert message in found.message
    assert str(found).startswith(f"output out: accept.{check}: ")


def test_manifest_checks_pass_at_their_limits() -> None:
    gate = Accept(
        min_files=2,
        max_files=2,
        max_bytes=12,
        rules=("count == 2", "bytes == 12", "files.all(f, f.digest.startsWith('b3:'))"),
    )
    assert accept.check_manifest("out", gate, entries(6, 6), {}) is None


def test_rules_see_params_and_datum() -> None:
    gate = Accept(rules=("count == params.expected && datum.day == '2024-01-01'",))
    variables = {"params": {"expected": 1}, "datum": {"day": "2024-01-01"}}
    assert accept.check_manifest("out", gate, entries(1), variables) is None


SCHEMA = {"type": "object", "required": ["v"], "properties": {"v": {"type": "integer"}}}


def test_json_schema_checks_json_jsonl_and_yaml_files(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text('{"v": 1}')
    (out / "b.jsonl").write_text('{"v": 1}\n\n{"v": 2}\n')
    (out / "c.yaml").write_text("v: 3\n")
    (out / "notes.txt").write_text("not checked")
    files = ["a.json", "b.jsonl", "c.yaml", "notes.txt"]
    assert accept.check_schema("out", schema, out, files) is None
    (out / "b.jsonl").write_text('{"v": 1}\n{"v": "two"}\n')
    (out / "c.yaml").write_text("w: 3\n")
    found = accept.check_schema("out", schema, out, files)
    assert found is not None
    assert found.message == "b.jsonl line 2 at $.v: 'two' is not of type 'integer' (and 1 more)"


def test_a_file_that_does_not_parse_is_rejected(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    (tmp_path / "a.json").write_text("{not json")
    found = accept.check_schema("out", schema, tmp_path, ["a.json"])
    assert found is not None
    assert found.message.startswith("a.json: cannot be read:")


def test_a_broken_schema_is_a_rejection_that_says_so(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": 12}')
    (tmp_path / "a.json").write_text("{}")
    found = accept.check_schema("out", schema, tmp_path, ["a.json"])
    assert found is not None
    assert "not a valid JSON Schema" in found.message


def test_the_validator_gets_the_folder_last_unless_it_names_an_output(tmp_path: Path) -> None:
    names = {"datum.day": "2024-01-01", "outputs.out": "/elsewhere"}
    plain = accept.validator_argv(("check", "--strict"), output="out", folder=tmp_path, names=names)
    assert plain == ["check", "--strict", str(tmp_path)]
    named = accept.validator_argv(
        ("check", "--dir={{ outputs.out }}", "{{ datum.day }}"),
        output="out",
        folder=tmp_path,
        names=names,
    )
    assert named == ["check", f"--dir={tmp_path}", "2024-01-01"]


def test_a_failing_validator_reports_its_exit_and_output(tmp_path: Path) -> None:
    script = tmp_path / "check.py"
    script.write_text("import sys; print('bad row in', sys.argv[1]); sys.exit(3)")
    found = accept.run_validator(
        "out", (sys.executable, str(script)), folder=tmp_path, names={}, cwd=tmp_path, environ={}
    )
    assert found is not None
    assert found.check == "command"
    assert found.message == f"`{sys.executable}` exited 3: bad row in {tmp_path}"
    ok = accept.run_validator(
        "out", (sys.executable, "-c", "pass"), folder=tmp_path, names={}, cwd=tmp_path, environ={}
    )
    assert ok is None


def test_a_validator_that_cannot_start_is_a_rejection(tmp_path: Path) -> None:
    found = accept.run_validator(
        "out", ("no-such-validator-here",), folder=tmp_path, names={}, cwd=tmp_path, environ={}
    )
    assert found is not None
    assert "could not run" in found.message


def test_datum_slugs_are_readable_and_safe() -> None:
    assert (
        accept.datum_slug({"day": "2024-01-02", "station": "a b"}) == "day=2024-01-02,station=a_b"
    )
    assert accept.datum_slug({}) == "all"
    assert "/" not in accept.datum_slug({"name": "../../etc"})
    assert len(accept.datum_slug({"name": "x" * 500})) < 130


def test_describe_lists_every_check() -> None:
    gate = Accept(min_files=1, json_schema="s.json", rules=("count < 3",), command=("v", "-q"))
    assert gates.describe(gate) == "min_files 1, json_schema s.json, rule count < 3, command v -q"
