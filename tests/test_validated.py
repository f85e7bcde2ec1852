"""Loading skips the schema and CEL checks for content that passed them, and only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kitecli.errors import PipelineError
from kitecli.spec import loader, validated

VALID = """\
kite: 1
params: {p: 1}
stages:
  a:
    when: params.p > 0
    code: [steps/a.py]
    command: [python, steps/a.py, "{{ outputs.o }}"]
    outputs: {o: a/}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "a.py").touch()
    (tmp_path / "pipeline.yaml").write_text(VALID)
    return tmp_path


def messages(path: Path) -> list[str]:
    with pytest.raises(PipelineError) as failure:
        loader.load(path)
    return [d.message for d in failure.value.diagnostics]


def test_a_valid_load_is_remembered(project: Path) -> None:
    pipeline = loader.load(project / "pipeline.yaml")
    record = (project / validated.RECORD).read_text().split()
    data, _ = loader.read(project / "pipeline.yaml")
    assert record == [validated.fingerprint(data)]
    assert loader.load(project / "pipeline.yaml") == pipeline


def test_an_edited_file_is_validated_again(project: Path) -> None:
    file = project / "pipeline.yaml"
    loader.load(file)
    file.write_text(VALID.replace("command:", "concurrency: many\n    command:"))
    assert messages(file) == ["stages.a.concurrency: expected a whole number, got a string"]
    file.write_text(VALID.replace("params.p > 0", "params.p >"))
    assert messages(file) == ["invalid CEL expression: the expression ends too early"]
    file.write_text(VALID)
    loader.load(file)
    assert len((project / validated.RECORD).read_text().split()) == 1


def test_checks_outside_the_file_still_run(project: Path) -> None:
    loader.load(project / "pipeline.yaml")
    (project / "steps" / "a.py").unlink()
    assert messages(project / "pipeline.yaml") == ["code file not found: steps/a.py"]


def test_comments_and_layout_do_not_matter(project: Path) -> None:
    loader.load(project / "pipeline.yaml")
    (project / "pipeline.yaml").write_text("# a comment\n" + VALID.replace("{p: 1}", "\n  p: 1"))
    data, _ = loader.read(project / "pipeline.yaml")
    assert validated.seen(project, validated.fingerprint(data))


def test_the_fingerprint_covers_the_kite_version(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"kite": 1, "stages": {}}
    before = validated.fingerprint(data)
    assert validated.fingerprint({**data, "name": "x"}) != before
    monkeypatch.setattr(validated, "__version__", "99.0")
    assert validated.fingerprint(data) != before


LOAD_AND_REPORT = """
import sys
from pathlib import Path
from kitecli.spec import loader
loader.load(Path("pipeline.yaml"))
print(*sorted({"jsonschema", "cel"} & {name.split(".")[0] for name in sys.modules}))
"""


def test_a_remembered_file_loads_without_jsonschema_or_cel(project: Path) -> None:
    def imported() -> str:
        argv = [sys.executable, "-c", LOAD_AND_REPORT]
        out = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert imported() == "cel jsonschema"  # the first load checks everything
    assert imported() == ""
    (project / validated.RECORD).unlink()
    assert imported() == "cel jsonschema"
