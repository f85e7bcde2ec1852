"""examples/logs, run with the real tools it names (sh, awk, sort, grep): what runs, and
what does not, as a user adds, touches, edits and deletes files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import kite

EXAMPLE = Path(__file__).parent.parent / "examples" / "logs"
pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("sh", "awk", "sort", "grep")),
    reason="needs sh, awk, sort and grep",
)


def apply(root: Path) -> list[str]:
    """Apply; `stage status` of every attempt it recorded (none: nothing to do)."""
    result = kite("apply", cwd=root)
    assert result.code == 0, result.stderr
    if "No changes" in result.stderr:
        return []
    runs = json.loads(kite("log", "--json", cwd=root).stdout)
    shown = json.loads(kite("show", runs[0]["id"], "--json", cwd=root).stdout)
    return sorted(f"{a['stage']} {a['status']}" for a in shown["attempts"])


def report(root: Path) -> dict[str, int]:
    lines = (root / "data/report/status.tsv").read_text().splitlines()
    return {status: int(n) for status, n in (line.split("\t") for line in lines)}


def totals(root: Path) -> dict[str, int]:
    """What the report should say: the statuses of every log line, counted here."""
    found: dict[str, int] = {}
    for log in (root / "data/raw").glob("*.log"):
        for line in log.read_text().splitlines():
            status = line.split('"')[2].split()[0]
            found[status] = found.get(status, 0) + 1
    return found


def test_the_example_runs_only_what_changed(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    shutil.copytree(EXAMPLE, root)
    assert apply(root) == ["count succeeded"] * 3 + ["report succeeded"]
    assert report(root) == totals(root)
    days = (root / "data/report/days.txt").read_text().split()
    assert days == ["2024-03-01", "2024-03-02", "2024-03-03"]

    # a new day: counted alone, then the report
    new = root / "data/raw/2024-03-04.log"
    new.write_text('10.0.0.1 - - [04/Mar/2024:00:00:00 +0000] "GET / HTTP/1.1" 418 12\n')
    assert apply(root) == ["count succeeded", "report succeeded"]
    assert report(root) == totals(root)
    assert report(root)["418"] == 1

    # a file touched, not changed: nothing runs
    stamp = new.stat().st_mtime_ns + 5_000_000_000
    os.utime(new, ns=(stamp, stamp))
    assert apply(root) == []

    # the report's script changed: the report runs again; reverted: it comes from the cache
    script = root / "steps/report.sh"
    original = script.read_text()
    script.write_text(original + "# reviewed\n")
    assert apply(root) == ["report succeeded"]
    script.write_text(original)
    assert apply(root) == ["report cached"]

    # count.sh changed without changing its output (which holds its input's path): every
    # day is counted again, and the report is unchanged (early cutoff)
    count = root / "steps/count.sh"
    count.write_text(count.read_text() + "# reviewed\n")
    assert apply(root) == ["count succeeded"] * 4

    # a day deleted: its counts go, the report is made again without it
    (root / "data/raw/2024-03-02.log").unlink()
    assert apply(root) == ["count deleted", "report succeeded"]
    assert not (root / "data/counts/2024-03-02.tsv").exists()
    assert report(root) == totals(root)
    assert "2024-03-02" not in (root / "data/report/days.txt").read_text()
