"""A project with a protected `prod` and a `test` environment that reads from it, for the
isolation tests. Its step logs every execution (with the environment) to calls.log."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from tests.helpers import write

# step.py MODE STAGE IN_DIR OUT_DIR: like tests/e2e.py's step; `copy` appends "!" to the
# file named by $MARK, so a changed `env:` can change the output of one datum only.
STEP = """\
import os, sys
from pathlib import Path

mode, stage, src, out = sys.argv[1:5]
files = sorted(p for p in Path(src).rglob("*") if p.is_file())
with open(os.environ["CALLS_LOG"], "a") as log:
    names = ",".join(p.relative_to(src).as_posix() for p in files)
    log.write(os.environ["KITE_ENV"] + " " + stage + " " + names + "\\n")
if mode == "copy":
    for p in files:
        text = p.read_text().upper() + ("!" if p.name == os.environ.get("MARK") else "")
        target = Path(out, p.relative_to(src))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
elif mode == "sum":
    total = sum(len(p.read_text()) for p in files)
    name = files[0].stem if len(files) == 1 else "all"
    Path(out, name + ".txt").write_text(str(total) + "\\n")
"""

PIPELINE = """\
kite: 1
name: envs
environments:
  prod: {{data: ./prod, metadata: {prod_meta}, cache: ./cache, protected: true}}
  test: {{data: "{test_data}", metadata: {test_meta}, cache: {test_cache}, reads: prod}}
stages:
  clean:
    inputs:
      raw: {{path: raw/, each: "{{day}}.csv"}}
    code: [step.py]
    env: {{MARK: "{mark}", WHERE: "{{{{ env }}}}"}}
    command: ["{python}", step.py, copy, clean, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"]
    outputs: {{clean: clean/}}
  size:
    inputs:
      clean: {{path: clean/, each: "{{day}}.csv"}}
    code: [step.py]
    env: {{WHERE: "{{{{ env }}}}"}}
    command: ["{python}", step.py, sum, size, "{{{{ inputs.clean }}}}", "{{{{ outputs.size }}}}"]
    outputs: {{size: size/}}
  total:
    inputs:
      size: size/
    code: [step.py]
    env: {{WHERE: "{{{{ env }}}}"}}
    command: ["{python}", step.py, sum, total, "{{{{ inputs.size }}}}", "{{{{ outputs.total }}}}"]
    outputs: {{total: total/}}
"""

DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
USER = "alice"


def make_project(
    root: Path,
    *,
    shared_metadata: bool = False,
    shared_cache: bool = True,
    test_data: str = "./test/{user}",
    mark: str = "",
) -> dict[str, str]:
    """Write the project and prod's raw data; returns the environment to run kite with."""
    write_pipeline(
        root,
        shared_metadata=shared_metadata,
        shared_cache=shared_cache,
        test_data=test_data,
        mark=mark,
    )
    write(root, {"step.py": STEP})
    for day in DAYS:
        write(root, {f"prod/raw/{day}.csv": f"day,{day}\n"})
    return {"CALLS_LOG": str(root / "calls.log"), "KITE_USER": USER}


def write_pipeline(
    root: Path,
    *,
    shared_metadata: bool = False,
    shared_cache: bool = True,
    test_data: str = "./test/{user}",
    mark: str = "",
) -> None:
    text = PIPELINE.format(
        python=sys.executable,
        prod_meta="./meta" if shared_metadata else "./meta/prod",
        test_meta="./meta" if shared_metadata else "./meta/test",
        test_cache="./cache" if shared_cache else "./cache-test",
        test_data=test_data,
        mark=mark,
    )
    write(root, {"pipeline.yaml": text})


def calls(root: Path) -> list[str]:
    """The executions so far (`ENV STAGE FILES`), then forget them."""
    log = root / "calls.log"
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return lines


def tree_digest(folder: Path) -> str:
    """Every path under `folder` with its mode, inode, mtime and content: equal iff untouched
    (a file rewritten with the same bytes, or a folder something was added to, differs)."""
    h = hashlib.sha256()
    st = folder.lstat()
    h.update(f"{st.st_mode}\0{st.st_ino}\0{st.st_mtime_ns}\0".encode())
    for dirpath, dirnames, filenames in sorted(os.walk(folder)):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = Path(dirpath, name)
            st = path.lstat()
            stat = f"{st.st_mode}\0{st.st_ino}\0{st.st_mtime_ns}\0{st.st_size}"
            h.update(f"{path.relative_to(folder)}\0{stat}\0".encode())
            if path.is_file() and not path.is_symlink():
                h.update(path.read_bytes())
    return h.hexdigest()
