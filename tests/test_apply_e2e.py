"""`kite apply` end to end through the command line, on real files and processes, with the
project's data, metadata and cache in local folders, in an S3 bucket and in a GCS bucket.

Every case runs locally; the remote sites share the cases out to keep the suite fast (each
passes on both: set KITE_TEST_ALL_SITES=1 to run every case on every site).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import helpers
from tests.e2e import DAYS, DataDir, Site, calls


def sites(*remote: str) -> pytest.MarkDecorator:
    """Run a case locally and on the `remote` sites (on all with KITE_TEST_ALL_SITES)."""
    chosen = ("s3", "gcs") if os.environ.get("KITE_TEST_ALL_SITES") else remote
    return pytest.mark.parametrize("site", ["local", *chosen], indirect=True)


def stage_calls(lines: list[str], stage: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in lines if line.startswith(stage + " ")]


class Project:
    """The e2e project at one site: run kite there, read its data root."""

    def __init__(self, root: Path, site: Site) -> None:
        self.root = root
        self.log = site.project(root)
        self.data = DataDir(root, site.data)

    def kite(self, *args: str, **env: str) -> helpers.Result:
        return helpers.kite(*args, cwd=self.root, env={"CALLS_LOG": str(self.log), **env})

    def apply(self, **env: str) -> None:
        result = self.kite("apply", **env)
        assert result.code == 0, result.stderr

    def calls(self) -> list[str]:
        return calls(self.log)


@sites("s3", "gcs")
def test_first_apply_runs_everything_and_second_nothing(site: Site, tmp_path: Path) -> None:
    project = Project(tmp_path, site)
    project.apply()
    ran = project.calls()
    assert sorted(stage_calls(ran, "clean")) == [f"{d}.csv" for d in DAYS]
    assert len(stage_calls(ran, "size")) == 3
    assert len(stage_calls(ran, "total")) == 1
    assert project.data.read("clean/2024-01-02.csv") == "DAY,2024-01-02\n"
    assert project.data.read("total/all.txt") == "9\n"
    project.apply()
    assert project.calls() == []
    assert (tmp_path / "kite.lock").exists()


@sites("gcs")
def test_one_changed_file_reruns_its_datum_and_dependents_only(site: Site, tmp_path: Path) -> None:
    project = Project(tmp_path, site)
    project.apply()
    project.calls()
    project.data.write("raw/2024-01-02.csv", "day,2024-01-02,changed\n")
    project.apply()
    ran = project.calls()
    assert stage_calls(ran, "clean") == ["2024-01-02.csv"]
    assert stage_calls(ran, "size") == ["2024-01-02.csv"]
    assert len(stage_calls(ran, "total")) == 1


@sites("gcs")
def test_reverting_a_change_is_served_from_the_run_cache(site: Site, tmp_path: Path) -> None:
    project = Project(tmp_path, site)
    original = project.data.read("raw/2024-01-02.csv")
    project.apply()
    project.data.write("raw/2024-01-02.csv", "changed\n")
    project.apply()
    project.calls()
    project.data.write("raw/2024-01-02.csv", original)
    project.apply()
    assert project.calls() == []
    assert project.data.read("clean/2024-01-02.csv") == "DAY,2024-01-02\n"
    assert project.data.read("total/all.txt") == "9\n"


@sites("gcs")
def test_byte_identical_output_stops_downstream(site: Site, tmp_path: Path) -> None:
    project = Project(tmp_path, site)
    project.apply()
    project.calls()
    pipeline = tmp_path / "pipeline.yaml"
    # a new command for `clean` (an extra argument the step ignores): same bytes out
    text = pipeline.read_text().replace('"{{ outputs.clean }}"]', '"{{ outputs.clean }}", ignored]')
    pipeline.write_text(text)
    project.apply()
    ran = project.calls()
    assert len(stage_calls(ran, "clean")) == 3
    assert stage_calls(ran, "size") == []
    assert stage_calls(ran, "total") == []


@sites("s3")
def test_removed_input_removes_exactly_its_outputs(site: Site, tmp_path: Path) -> None:
    project = Project(tmp_path, site)
    project.apply()
    project.data.delete("raw/2024-01-03.csv")
    project.apply()
    assert project.data.names("clean") == ["2024-01-01.csv", "2024-01-02.csv"]
    assert not project.data.exists("size/2024-01-03.txt")
    assert project.data.read("total/all.txt") == "6\n"


@sites("s3")
def test_a_failing_datum_keeps_previous_outputs_and_exits_1(site: Site, tmp_path: Path) -> None:
    project = Project(tmp_path, site)
    project.apply()
    before = project.data.read("clean/2024-01-02.csv")
    project.data.write("raw/2024-01-02.csv", "day,broken\n")
    failed = project.kite("apply", STEP_FAIL="2024-01-02.csv")
    assert failed.code == 1, failed.stderr
    assert project.data.read("clean/2024-01-02.csv") == before
    history = project.kite("log", "--json")
    assert history.code == 0, history.stderr
    runs = json.loads(history.stdout)
    assert [r["status"] for r in runs] == ["failed", "succeeded"]
    shown = project.kite("show", "last")
    assert "exit   7" in shown.stdout
    logs = project.kite("logs", "last", "clean", "--datum", "day=2024-01-02")
    assert logs.code == 0
    assert "attempt 1 (failed)" in logs.stdout
    assert "clean processing 2024-01-02.csv" in logs.stdout
    assert "2024-01-01" not in logs.stdout
