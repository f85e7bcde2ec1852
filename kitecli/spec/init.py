"""Files kite writes into a project: the starter pipeline, .gitignore lines, the schema."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from kitecli.errors import ProjectError
from kitecli.spec.loader import PIPELINE_FILE

SCHEMA_COPY = ".kite/pipeline.schema.json"
GITIGNORE_LINES = ("# kite's local state: stat cache, content store, metadata", ".kite/")

STARTER = """\
# yaml-language-server: $schema={schema}
# A kite pipeline. `kite validate` checks it, `kite graph` draws it. Paths of inputs and
# outputs are relative to the environment's data root.
kite: 1
name: {name}

params:
  greeting: hello

environments:
  dev:
    data: ./data               # where the directories below live
    metadata: ./.kite/meta     # history and state (may be s3://... or gs://...)

stages:
  # A source stage: no inputs; one datum per day of the range.
  greet:
    datums:
      day: {{from: 2024-01-01, to: 2024-01-03, every: 1d}}
    code: [steps/greet.py]     # its content is part of the stage's fingerprint
    command: [python3, steps/greet.py, "{{{{ datum.day }}}}", "{{{{ params.greeting }}}}",
              "{{{{ outputs.greetings }}}}"]
    outputs:
      greetings: greetings/

  # One datum per file: a changed file reruns only its own datum.
  shout:
    inputs:
      greetings: {{path: greetings/, each: "{{day}}.txt"}}
    code: [steps/shout.py]
    command: [python3, steps/shout.py, "{{{{ inputs.greetings }}}}", "{{{{ outputs.shouted }}}}"]
    outputs:
      shouted: shouted/
"""

STEPS = {
    "steps/greet.py": """\
\"\"\"Write one greeting file for one day: greet.py DAY GREETING OUT_DIR.\"\"\"

import sys
from pathlib import Path

day, greeting, out = sys.argv[1:4]
Path(out, f"{day}.txt").write_text(f"{greeting} {day}\\n")
""",
    "steps/shout.py": """\
\"\"\"Upper-case every file of the input view: shout.py IN_DIR OUT_DIR.\"\"\"

import sys
from pathlib import Path

src, out = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(src.rglob("*.txt")):
    Path(out, path.name).write_text(path.read_text().upper())
""",
}


def init_project(folder: Path, *, force: bool = False) -> list[str]:
    """Write the starter pipeline and .gitignore lines; return what was done."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / PIPELINE_FILE
    if target.exists() and not force:
        raise ProjectError(f"{target} already exists", hint="use --force to overwrite it")
    name = re.sub(r"[^a-z0-9-]+", "-", folder.resolve().name.lower()).strip("-")[:40] or "pipeline"
    target.write_text(STARTER.format(name=name, schema=SCHEMA_COPY))
    done = [f"wrote {target}"]
    for relpath, text in STEPS.items():
        step = folder / relpath
        if not step.exists():
            step.parent.mkdir(parents=True, exist_ok=True)
            step.write_text(text)
            done.append(f"wrote {step}")
    gitignore = folder / ".gitignore"
    present = gitignore.read_text().splitlines() if gitignore.exists() else []
    if ".kite/" not in present:
        prefix = "\n" if present and present[-1] != "" else ""
        with gitignore.open("a") as handle:
            handle.write(prefix + "\n".join(GITIGNORE_LINES) + "\n")
        done.append(f"added .kite/ to {gitignore}")
    install_schema(folder)
    done.append("next: kite validate && kite graph")
    return done


def install_schema(root: Path) -> None:
    """Keep a copy of the schema at .kite/ for editors (the `$schema` comment points there)."""
    text = resources.files("kitecli").joinpath("schemas/pipeline.schema.json").read_text()
    copy = root / SCHEMA_COPY
    try:
        if not copy.exists() or copy.read_text() != text:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(text)
    except OSError:
        pass  # a read-only project still validates; only the editor support is missing
