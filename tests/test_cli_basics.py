"""The command line's promises: init gives a valid project, errors have positions and codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitecli import __version__


def test_init_then_validate_in_an_empty_folder(run_kite, tmp_path: Path) -> None:
    assert run_kite("init").code == 0
    result = run_kite("validate")
    assert result.code == 0, result.stderr
    assert "valid" in result.stdout
    assert ".kite/" in (tmp_path / ".gitignore").read_text().splitlines()


def test_init_refuses_to_overwrite(run_kite) -> None:
    assert run_kite("init").code == 0
    again = run_kite("init")
    assert again.code == 3
    assert "--force" in again.stderr


def test_version(run_kite) -> None:
    result = run_kite("--version")
    assert result.code == 0
    assert result.stdout.strip() == f"kite {__version__}"


def test_unknown_command_is_a_usage_error(run_kite) -> None:
    assert run_kite("no-such-command").code == 64


def test_no_pipeline_here(run_kite) -> None:
    result = run_kite("validate")
    assert result.code == 3
    assert "kite init" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_pipeline_is_found_in_a_parent_up_to_a_ceiling(run_kite, tmp_path: Path) -> None:
    """As git's GIT_CEILING_DIRECTORIES: the search for pipeline.yaml does not go up into a
    folder KITE_CEILING_DIRECTORIES names (the test suite names its scratch root)."""
    run_kite("init")
    inner = tmp_path / "sub" / "deeper"
    inner.mkdir(parents=True)
    found = run_kite("validate", cwd=inner, env={"KITE_CEILING_DIRECTORIES": "/nowhere"})
    assert found.code == 0, found.stderr
    ceiling = f"/nowhere:{tmp_path / 'sub'}"
    stopped = run_kite("validate", cwd=inner, env={"KITE_CEILING_DIRECTORIES": ceiling})
    assert stopped.code == 3, stopped.stderr
    assert "no pipeline.yaml in this folder or any parent" in stopped.stderr


def test_yaml_syntax_error_has_a_position(run_kite, tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text("kite: 1\nstages:\n  a: {command: [x]\n  b: 1\n")
    result = run_kite("validate")
    assert result.code == 3
    assert "pipeline.yaml:4:3: YAML:" in result.stderr
    assert "Traceback" not in result.stderr


EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*/pipeline.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.parent.name for e in EXAMPLES])
def test_example_pipeline_is_valid(run_kite, example: Path) -> None:
    result = run_kite("validate", "--json", cwd=example.parent)
    assert result.code == 0, result.stderr
    assert '"valid": true' in result.stdout


def test_several_errors_are_reported_in_one_run(run_kite, tmp_path: Path) -> None:
    golden = Path(__file__).parent / "invalid" / "several_errors.yaml"
    (tmp_path / "pipeline.yaml").write_text(golden.read_text())
    result = run_kite("validate")
    assert result.code == 3
    positions = [line.split(": ")[0] for line in result.stderr.splitlines() if line[:1] != " "]
    assert positions[:-1] == [
        "pipeline.yaml:20:31",  # unknown environment in reads:
        "pipeline.yaml:23:5",  # misspelled key (schema)
        "pipeline.yaml:26:39",  # bad each pattern
        "pipeline.yaml:27:19",  # unknown template name
        "pipeline.yaml:29:14",  # bad duration (while building)
        "pipeline.yaml:30:3",  # cycle
        "pipeline.yaml:32:15",  # invalid CEL
        "pipeline.yaml:38:18",  # two writers
    ]
    assert result.stderr.splitlines()[-1] == "error: 8 errors in pipeline.yaml"
