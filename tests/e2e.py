"""A small three-stage project for end-to-end tests, whose steps log every execution; its
data, metadata and cache may be local folders or s3:// and gs:// URLs."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import write

# step.py MODE STAGE IN_DIR OUT_DIR: copies (or sums) its input view, appending one line
# per execution to calls.log in the project folder, so tests can count what ran (and, with
# STEP_TIMES, "kite's pid, start, end" to that file, so tests can see which applies overlapped).
STEP = """\
import os, sys, time
from pathlib import Path

started = time.time()
mode, stage, src, out = sys.argv[1:5]
files = sorted(p for p in Path(src).rglob("*") if p.is_file())
with open(Path(os.environ["CALLS_LOG"]), "a") as log:
    log.write(stage + " " + ",".join(p.relative_to(src).as_posix() for p in files) + "\\n")
print(stage, "processing", ",".join(p.name for p in files), flush=True)
if os.environ.get("STEP_SLEEP"):
    time.sleep(float(os.environ["STEP_SLEEP"]))
if os.environ.get("STEP_FAIL") and os.environ["STEP_FAIL"] in {p.name for p in files}:
    sys.exit(7)
if mode == "copy":
    for p in files:
        target = Path(out, p.relative_to(src))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(p.read_text().upper())
elif mode == "sum":
    total = sum(len(p.read_text()) for p in files)
    name = files[0].stem if len(files) == 1 else "all"
    Path(out, name + ".txt").write_text(str(total) + "\\n")
if os.environ.get("STEP_TIMES"):
    with open(os.environ["STEP_TIMES"], "a") as times:
        times.write(f"{os.getppid()} {started} {time.time()}\\n")
"""

PIPELINE = """\
kite: 1
name: e2e
environments:
  dev: {{data: ./data, metadata: ./meta, cache: ./cache}}
stages:
  clean:
    inputs:
      raw: {{path: raw/, each: "{{day}}.csv"}}
    code: [step.py]
    command: ["{python}", step.py, copy, clean, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"]
    outputs: {{clean: clean/}}
  size:
    inputs:
      clean: {{path: clean/, each: "{{day}}.csv"}}
    code: [step.py]
    command: ["{python}", step.py, sum, size, "{{{{ inputs.clean }}}}", "{{{{ outputs.size }}}}"]
    outputs: {{size: size/}}
  total:
    inputs:
      size: size/
    code: [step.py]
    command: ["{python}", step.py, sum, total, "{{{{ inputs.size }}}}", "{{{{ outputs.total }}}}"]
    outputs: {{total: total/}}
"""

DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
LOCAL = "dev: {data: ./data, metadata: ./meta, cache: ./cache}"  # PIPELINE's environment


def make_project(
    root: Path,
    *,
    days: tuple[str, ...] = DAYS,
    data: str = "./data",
    metadata: str = "./meta",
    cache: str = "./cache",
) -> Path:
    """Write the project (its raw files into `data`); returns the path of its calls.log."""
    text = PIPELINE.format(python=sys.executable)
    text = text.replace(LOCAL, f"dev: {{data: {data}, metadata: {metadata}, cache: {cache}}}")
    write(root, {"pipeline.yaml": text, "step.py": STEP})
    files = DataDir(root, data)
    for day in days:
        files.write(f"raw/{day}.csv", f"day,{day}\n")
    return root / "calls.log"


class DataDir:
    """A project's data root as text files, in a local folder or under an s3:// or gs:// URL."""

    def __init__(self, root: Path, location: str) -> None:
        self.remote = "://" in location
        self.path = root / location
        if self.remote:
            from kitecli.store import open_backend

            self.backend = open_backend(location)

    def write(self, rel: str, text: str) -> None:
        if not self.remote:
            write(self.path, {rel: text})
            return
        fd, name = tempfile.mkstemp(prefix="kite-test-")
        try:
            os.write(fd, text.encode())
            os.close(fd)
            self.backend.upload(rel, name)  # no digest: as any other tool would write it
        finally:
            os.unlink(name)

    def read(self, rel: str) -> str:
        if not self.remote:
            return (self.path / rel).read_text()
        found = self.backend.read(rel)
        if found is None:
            raise FileNotFoundError(rel)
        return found.data.decode()

    def exists(self, rel: str) -> bool:
        return (self.path / rel).exists() if not self.remote else self.backend.exists(rel)

    def delete(self, rel: str) -> None:
        if not self.remote:
            (self.path / rel).unlink()
        else:
            self.backend.delete(rel)

    def names(self, folder: str) -> list[str]:
        """The files in `folder` (relative to it), sorted."""
        if not self.remote:
            top = self.path / folder
            return sorted(p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())
        return sorted(s.key.removeprefix(folder + "/") for s in self.backend.list(folder))


def calls(log: Path) -> list[str]:
    """The executions so far, then forget them."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return lines


@dataclass(frozen=True)
class Site:
    """Where a project keeps its data root, metadata repo and cache."""

    name: str
    data: str = "./data"
    metadata: str = "./meta"
    cache: str = "./cache"

    @classmethod
    def in_bucket(cls, bucket: str) -> Site:
        """All three in one bucket (`s3://…` or `gs://…`), under their own prefixes."""
        return cls(bucket.partition(":")[0], f"{bucket}/data", f"{bucket}/meta", f"{bucket}/cache")

    def project(self, root: Path, *, days: tuple[str, ...] = DAYS) -> Path:
        """The e2e project in `root` with this site's locations; returns its calls.log."""
        return make_project(
            root, days=days, data=self.data, metadata=self.metadata, cache=self.cache
        )
