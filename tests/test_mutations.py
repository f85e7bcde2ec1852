"""Whatever is wrong with a pipeline, loading it reports diagnostics: it never crashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kitecli.errors import PipelineError
from kitecli.spec import loader

EXAMPLE = Path(__file__).parent.parent / "examples" / "weather"
LINES = (EXAMPLE / "pipeline.yaml").read_text().splitlines()
# A value of every YAML kind, and the usual slips: a date that does not exist, a {{ }}.
VALUES = ("[1]", "{a: 1}", "3", "x", "", "null", '"{{ x }}"', "2024-02-30")


def mutations() -> list[tuple[int, str]]:
    """(line index, replacement): every keyed line gets another value, or goes."""
    keyed = [i for i, line in enumerate(LINES) if ":" in line and line.lstrip()[:1] != "#"]
    replacements = [*VALUES, None]  # None: delete the line
    found = []
    for n, index in enumerate(keyed):
        value = replacements[n % len(replacements)]
        key = LINES[index].split(":", 1)[0]
        found.append((index, "" if value is None else f"{key}: {value}"))
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("weather")
    shutil.copytree(EXAMPLE / "steps", root / "steps")
    return root


@pytest.mark.parametrize(("index", "line"), mutations())
def test_a_mutated_pipeline_loads_or_reports(project: Path, index: int, line: str) -> None:
    file = project / "pipeline.yaml"
    file.write_text("\n".join([*LINES[:index], line, *LINES[index + 1 :]]) + "\n")
    diagnostics = []
    try:
        loader.load(file)
    except PipelineError as exc:  # anything else fails the test, with its traceback
        diagnostics = exc.diagnostics
        assert diagnostics
    assert all(1 <= d.line <= len(LINES) + 1 and d.col >= 1 for d in diagnostics)
