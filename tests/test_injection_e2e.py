"""Values substituted into commands stay one literal argument each, whatever they hold:
no shell ever sees them. Through the `kite` command, on real processes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers import write

# argv.py OUT ARGS...: writes exactly the argv and KITE_* variables it got to OUT/<hash>.json.
ARGV = """\
import hashlib, json, os, sys
from pathlib import Path

out, *args = sys.argv[1:]
seen = {k: v for k, v in os.environ.items() if k.startswith(("KITE_DATUM_", "KITE_PARAM_"))}
name = hashlib.sha256(repr(args).encode()).hexdigest()[:16]
Path(out, name + ".json").write_text(json.dumps({"argv": args, "env": seen}))
"""

# check.py FOLDER NAME: the validator accepts only when it got exactly those two arguments,
# NAME being the datum's name as kite exported it.
CHECK = """\
import os, sys
ok = len(sys.argv) == 3 and sys.argv[2] == os.environ["KITE_DATUM_NAME"]
sys.exit(0 if ok else 1)
"""

PIPELINE = """\
kite: 1
name: injection
params: {{note: hello}}
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  echo:
    inputs: {{raw: {{path: raw/, each: "{{name}}.csv"}}}}
    command: ["{python}", argv.py, "{{{{ outputs.out }}}}", "{{{{ params.note }}}}",
              "{{{{ datum.name }}}}", "--name={{{{ datum.name }}}}"]
    outputs:
      out: {{path: "out/", accept: {{command: ["{python}", check.py, "{{{{ outputs.out }}}}",
                                             "{{{{ datum.name }}}}"]}}}}
"""
NAMES = ("plain", "a b", 'it\'s "quoted"', "$(touch pwned)", "x; touch pwned; y", "`touch pwned`")
NOTE = "x; rm -rf /"


def test_params_and_datum_fields_reach_the_command_as_one_literal_argument_each(
    run_kite, tmp_path: Path
) -> None:
    pipeline = PIPELINE.format(python=sys.executable)
    write(tmp_path, {"pipeline.yaml": pipeline, "argv.py": ARGV, "check.py": CHECK})
    for name in NAMES:
        write(tmp_path, {f"data/raw/{name}.csv": "x\n"})
    result = run_kite("apply", "--param", f"note={NOTE}")
    assert result.code == 0, result.stderr
    seen = [json.loads(path.read_text()) for path in sorted((tmp_path / "data/out").glob("*.json"))]
    by_name = {s["argv"][1]: s for s in seen}
    assert sorted(by_name) == sorted(NAMES)
    for name in NAMES:
        assert by_name[name]["argv"] == [NOTE, name, f"--name={name}"]
        assert by_name[name]["env"]["KITE_DATUM_NAME"] == name
        assert by_name[name]["env"]["KITE_PARAM_NOTE"] == NOTE
    assert not list(tmp_path.rglob("pwned"))
