"""Golden invalid pipelines: each file in tests/invalid/ states the diagnostics it must get.

A file's leading comment lines hold, after a free-text description:

    # expect: LINE:COL: a substring of the message
    # hint: a substring of the hint under the diagnostic above (optional)

`kite validate` must exit 3 and report exactly these diagnostics, no more, each as
`pipeline.yaml:LINE:COL: message`. To add a case, add a file.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import kite

CASES = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))
_EXPECT = re.compile(r"# expect: (\d+):(\d+): (.+)")
_REPORTED = re.compile(r"pipeline\.yaml:(\d+):(\d+): (.*)")


@dataclass
class Finding:
    line: int
    col: int
    message: str
    hint: str = ""


def expected(path: Path) -> list[Finding]:
    """The `# expect:` and `# hint:` lines at the top of a golden file."""
    found: list[Finding] = []
    for text in path.read_text().splitlines():
        if not text.startswith("#"):
            break
        if match := _EXPECT.fullmatch(text):
            found.append(Finding(int(match[1]), int(match[2]), match[3]))
        elif text.startswith("# hint: "):
            found[-1].hint = text.removeprefix("# hint: ")
    return found


def reported(stderr: str) -> list[Finding]:
    """The diagnostics kite printed, with the hint under each."""
    found: list[Finding] = []
    for text in stderr.splitlines():
        if match := _REPORTED.fullmatch(text):
            found.append(Finding(int(match[1]), int(match[2]), match[3]))
        elif text.startswith("  hint: ") and found:
            found[-1].hint = text.removeprefix("  hint: ")
    return found


def validate(path: Path, tmp_path: Path) -> tuple[int, str]:
    """`kite validate pipeline.yaml` on a copy of `path`."""
    shutil.copy(path, tmp_path / "pipeline.yaml")
    done = kite("validate", "pipeline.yaml", cwd=tmp_path)
    return done.code, done.stderr


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert all(expected(case) for case in CASES), "every case states what it expects"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_invalid_pipeline(case: Path, tmp_path: Path) -> None:
    code, stderr = validate(case, tmp_path)
    assert code == 3, stderr
    assert "Traceback" not in stderr
    got = reported(stderr)
    for want in expected(case):
        match = next(
            (
                g
                for g in got
                if (g.line, g.col) == (want.line, want.col)
                and want.message in g.message
                and want.hint in g.hint
            ),
            None,
        )
        assert match is not None, f"not reported: {want}\n--- stderr:\n{stderr}"
        got.remove(match)
    assert not got, f"reported but not expected: {got}\n--- stderr:\n{stderr}"
    count = len(expected(case))
    assert stderr.rstrip().endswith(f"{count} error{'s' if count > 1 else ''} in pipeline.yaml")
