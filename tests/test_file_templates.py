"""`{{ inputs.x.file }}` (the one file of a per-file datum) and `{{ inputs.x.files }}` (one
argv item per file of the datum, also listed in the file `KITE_FILES_<INPUT>` names)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import kite, write

PIPELINE = """\
kite: 1
name: files
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  one:
    inputs: {raw: {path: raw/, each: "{day}/{station}.csv"}}
    command: [sh, -c, 'cp "$1" "$2/$(basename "$1")"', sh, "{{ inputs.raw.file }}",
              "{{ outputs.one }}"]
    outputs: {one: one/}
  many:
    inputs: {raw: {path: raw/, each: "{day}/{station}.csv", by: [day]}}
    command: [sh, -c, 'printf "%s\\n" "$@" > "$0/args"; cat "$KITE_FILES_RAW" > "$0/list"',
              "{{ outputs.many }}/", "{{ inputs.raw.files }}"]
    outputs: {many: many/}
"""


def test_file_is_the_one_file_and_files_one_item_per_file(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE})
    for station in ("B", "A", "C"):
        write(tmp_path, {f"data/raw/2024-01-01/{station}.csv": f"{station}\n"})
    result = kite("apply", cwd=tmp_path)
    assert result.code == 0, result.stderr
    copied = sorted(p.name for p in (tmp_path / "data/one").iterdir())
    assert copied == ["A.csv", "B.csv", "C.csv"]
    assert (tmp_path / "data/one/B.csv").read_text() == "B\n"
    args = (tmp_path / "data/many/args").read_text().splitlines()
    view = tmp_path / ".kite/work/many"
    assert [Path(a).name for a in args] == ["A.csv", "B.csv", "C.csv"]  # path order
    assert all(Path(a).is_relative_to(view) for a in args)  # the datum's view
    assert (tmp_path / "data/many/list").read_text().splitlines() == args


def test_file_where_a_datum_may_hold_several_is_an_error_at_its_position(tmp_path: Path) -> None:
    text = PIPELINE.replace("{{ inputs.raw.files }}", "{{ inputs.raw.file }}")
    write(tmp_path, {"pipeline.yaml": text})
    result = kite("validate", cwd=tmp_path)
    assert result.code == 3
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "outputs.many }}/" in t)
    assert f"pipeline.yaml:{line}:" in result.stderr
    assert "unknown name {{ inputs.raw.file }} in the command" in result.stderr
    assert "use {{ inputs.raw.files }} or the folder {{ inputs.raw }}" in result.stderr


def test_files_inside_a_longer_item_is_an_error(tmp_path: Path) -> None:
    text = PIPELINE.replace('"{{ inputs.raw.files }}"', '"--in={{ inputs.raw.files }}"')
    write(tmp_path, {"pipeline.yaml": text})
    result = kite("validate", cwd=tmp_path)
    assert result.code == 3
    assert "{{ inputs.raw.files }} in the command must be an argv item of its own" in result.stderr


def test_the_one_file_is_no_variable_and_the_list_is(tmp_path: Path) -> None:
    from kitecli.run import views
    from kitecli.scan.manifest import FileEntry
    from kitecli.spec import loader

    write(tmp_path, {"pipeline.yaml": PIPELINE})
    pipeline = loader.load(tmp_path / "pipeline.yaml")
    stage = pipeline.stages["one"]
    workspace = views.layout(Path("/kite/datum"), stage)
    files = {"raw": {"2024-01-01/A.csv": FileEntry("b3:" + "0" * 64, 2)}}
    names = views.values(
        pipeline=pipeline,
        stage=stage,
        env="dev",
        run_id="r",
        key={"day": "2024-01-01", "station": "A"},
        workspace=workspace,
        files=files,
    )
    assert names["inputs.raw.file"] == "/kite/datum/in/raw/2024-01-01/A.csv"
    environ = views.environ(stage, names)
    assert environ["KITE_FILES_RAW"] == "/kite/datum/lists/raw"
    assert not any(k.endswith("_FILE") for k in environ)
