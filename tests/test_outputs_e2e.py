"""Through the `kite` command: a datum must write each declared output (an empty one fails
the attempt, naming the output and what it wrote into an input view instead, unless the
output is `optional: true`), and a string `command:` keeps each `{{ }}` whole."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers import kite, write

# index.py SRC OUT: writes SRC/NAME.idx for each input file (into its input view, as an
# indexing tool that writes next to its input does), and OUT/NAME.idx when OUT is not "-".
INDEX = """\
import sys
from pathlib import Path

src, out = sys.argv[1:3]
for p in sorted(Path(src).iterdir()):
    if p.name.endswith(".idx"):
        continue
    target = Path(src if out == "-" else out, p.name + ".idx")
    target.write_text("index of " + p.name)
"""

PIPELINE = """\
kite: 1
name: outputs
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  index:
    inputs:
      genome: {{path: genome/, each: "{{name}}.fa"}}
    code: [index.py]
    retries: {{limit: 2}}
    command: ["{python}", index.py, "{{{{ inputs.genome }}}}", "{where}"]
    outputs:
      index: {output}
"""


def _project(root: Path, *, where: str, output: str = "index/") -> Path:
    write(
        root,
        {
            "index.py": INDEX,
            "pipeline.yaml": PIPELINE.format(python=sys.executable, where=where, output=output),
            "data/genome/chr1.fa": ">chr1\nACGT\n",
        },
    )
    return root


def test_an_output_written_into_the_input_view_fails_and_names_the_file(tmp_path: Path) -> None:
    root = _project(tmp_path, where="-")
    result = kite("apply", "--yes", cwd=root)
    assert result.code == 1, result.stderr
    assert "output 'index' is empty" in result.stderr
    assert "{{ inputs.genome }}/chr1.fa.idx" in result.stderr
    assert "write into {{ outputs.index }}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / "data" / "index").exists()
    shown = json.loads(kite("show", "last", "--json", cwd=root).stdout)
    attempts = [a for a in shown["attempts"] if a["stage"] == "index"]
    assert [a["status"] for a in attempts] == ["failed"]  # not retried: it cannot help


def test_an_empty_output_fails_without_strays(tmp_path: Path) -> None:
    root = _project(tmp_path, where="{{ outputs.index }}")
    (root / "index.py").write_text("import sys\n")  # writes nothing at all
    result = kite("apply", "--yes", cwd=root)
    assert result.code == 1, result.stderr
    assert "output 'index' is empty: the command wrote nothing into {{ outputs.index }}" in (
        result.stderr
    )


def test_an_optional_output_may_stay_empty(tmp_path: Path) -> None:
    root = _project(tmp_path, where="-", output="{path: index/, optional: true}")
    result = kite("apply", "--yes", cwd=root)
    assert result.code == 0, result.stderr


def test_optional_must_be_a_boolean(tmp_path: Path) -> None:
    root = _project(tmp_path, where="-", output="{path: index/, optional: sometimes}")
    result = kite("validate", cwd=root)
    assert result.code == 3, result.stderr
    said = result.stderr + result.stdout
    assert "pipeline.yaml:13:" in said
    assert "outputs.index.optional: expected true or false" in said


def test_an_output_written_in_place_succeeds(tmp_path: Path) -> None:
    root = _project(tmp_path, where="{{ outputs.index }}")
    result = kite("apply", "--yes", cwd=root)
    assert result.code == 0, result.stderr
    assert (root / "data" / "index" / "chr1.fa.idx").read_text() == "index of chr1.fa"


# daily.py DAY SRC OUT: writes OUT/DAY.json counting SRC's files
DAILY = """\
import json, sys
from pathlib import Path

day, src, out = sys.argv[1:4]
Path(out, day + ".json").write_text(json.dumps({"day": day, "argc": len(sys.argv)}))
"""

STRING = """\
kite: 1
name: strings
params: {{label: "two words"}}
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  daily:
    inputs:
      events: {{path: events/, each: "{{day}}.csv"}}
    code: [daily.py]
    command: "{python} daily.py {{{{ datum.day }}}} {{{{ inputs.events }}}} {{{{ outputs.daily }}}}\
 {tail}"
    outputs: {{daily: daily/}}
"""


def _strings(root: Path, tail: str = "'{{ params.label }}'") -> Path:
    write(
        root,
        {
            "daily.py": DAILY,
            "pipeline.yaml": STRING.format(python=sys.executable, tail=tail),
            "data/events/2024-01-01.csv": "a\n",
        },
    )
    return root


def test_a_string_command_with_templates_runs(tmp_path: Path) -> None:
    root = _strings(tmp_path)
    assert kite("validate", cwd=root).code == 0
    result = kite("apply", "--yes", cwd=root)
    assert result.code == 0, result.stderr
    made = json.loads((root / "data" / "daily" / "2024-01-01.json").read_text())
    assert made == {"day": "2024-01-01", "argc": 5}  # "two words" is one argument


def test_kite_debug_shows_the_argv_of_a_string_command(tmp_path: Path) -> None:
    root = _strings(tmp_path)
    result = kite("debug", "daily", "--format", "json", cwd=root)
    assert result.code == 0, result.stderr
    argv = json.loads(result.stdout)["argv"]
    assert argv[1:3] == ["daily.py", "2024-01-01"]
    assert argv[3].endswith("/in/events")
    assert argv[4].endswith("/out/daily")
    assert argv[5] == "two words"


def test_validate_catches_a_typo_in_a_string_command(tmp_path: Path) -> None:
    root = _strings(tmp_path, tail="{{ params.lable }}")
    result = kite("validate", cwd=root)
    assert result.code == 3
    said = result.stderr + result.stdout
    assert "unknown name {{ params.lable }}" in said
    assert "Traceback" not in said
