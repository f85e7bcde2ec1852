"""The task environment: a command sees the same paths and variables for the same datum in
every run and every environment, so a tool that writes its argv, working directory,
`TMPDIR`, environment and input paths into its output still reproduces bytes, and early
cutoff holds for it."""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

from kitecli.run import claims
from tests.helpers import kite, write

# echo.py IN OUT: writes everything it can see of its task into OUT/<name>.txt
ECHO = """\
import json, os, sys, tempfile
from pathlib import Path

src, out = sys.argv[1:3]
seen = {
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "tmpdir": tempfile.gettempdir(),
    "environ": dict(sorted(os.environ.items())),
    "inputs": sorted(str(p) for p in Path(src).rglob("*")),
}
Path(tempfile.gettempdir(), "scratch.txt").write_text("temporary")
for p in Path(src).glob("*.csv"):
    Path(out, p.stem + ".txt").write_text(json.dumps(seen, indent=1) + p.read_text())
"""

PIPELINE = """\
kite: 1
name: same
environments:
  a: {{data: ./data-a, metadata: ./meta, cache: ./cache}}
  b: {{data: ./data-b, metadata: ./meta, cache: ./cache}}
stages:
  echo:
    inputs: {{raw: {{path: raw/, each: "{{day}}.csv"}}}}
    version: "{version}"
    code: [echo.py]
    command: ["{python}", echo.py, "{{{{ inputs.raw }}}}", "{{{{ outputs.echo }}}}"]
    outputs: {{echo: echo/}}
  count:
    inputs: {{echo: echo/}}
    command: [sh, -c, 'cat "$1"/*.txt | wc -c > "$2/bytes"', sh, "{{{{ inputs.echo }}}}",
              "{{{{ outputs.count }}}}"]
    outputs: {{count: count/}}
"""
DAYS = ("2024-01-01", "2024-01-02")


def project(root: Path, version: str = "1") -> None:
    pipeline = PIPELINE.format(python=sys.executable, version=version)
    write(root, {"pipeline.yaml": pipeline, "echo.py": ECHO})
    for data in ("data-a", "data-b"):
        write(root, {f"{data}/raw/{day}.csv": f"day,{day}\n" for day in DAYS})


def ran(root: Path, env: str) -> list[str]:
    """`stage status` of every attempt of the environment's newest run."""
    runs = json.loads(kite("log", "--env", env, "--json", cwd=root).stdout)
    shown = json.loads(kite("show", runs[0]["id"], "--env", env, "--json", cwd=root).stdout)
    return sorted(f"{a['stage']} {a['status']}" for a in shown["attempts"])


def outputs(root: Path, data: str) -> dict[str, bytes]:
    folder = root / data / "echo"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_two_runs_and_two_environments_write_identical_bytes(tmp_path: Path) -> None:
    project(tmp_path)
    assert kite("apply", "--env", "a", cwd=tmp_path).code == 0
    first = outputs(tmp_path, "data-a")
    seen = json.loads(first["2024-01-01.txt"].decode().rsplit("}", 1)[0] + "}")
    assert "KITE_RUN_ID" not in seen["environ"]
    assert "KITE_ENV" not in seen["environ"]
    assert seen["environ"]["KITE_DATUM_DAY"] == "2024-01-01"
    assert seen["tmpdir"].startswith(str(tmp_path / ".kite" / "work"))
    assert "data-a" not in json.dumps(seen)  # no environment's name or root in what it sees

    # another environment, its own data root: the command sees exactly the same
    assert kite("apply", "--env", "b", cwd=tmp_path).code == 0
    assert outputs(tmp_path, "data-b") == first

    # a version bump re-runs the upstream stage; its bytes are the same: count is unchanged
    project(tmp_path, version="2")
    assert kite("apply", "--env", "a", cwd=tmp_path).code == 0
    assert ran(tmp_path, "a") == ["echo succeeded", "echo succeeded"]
    assert outputs(tmp_path, "data-a") == first
    plan = json.loads(kite("plan", "--env", "a", "--json", cwd=tmp_path).stdout)
    assert {k: n for k, n in plan["summary"].items() if n} == {"unchanged": 3}
    assert not (tmp_path / ".kite" / "work").exists()  # every datum's folder cleared


def test_a_folder_held_by_another_apply_is_waited_for_then_refused(tmp_path: Path) -> None:
    project(tmp_path)
    folder = tmp_path / ".kite" / "work" / "echo"
    assert kite("apply", "--env", "a", "--stage", "echo", cwd=tmp_path).code == 0
    project(tmp_path, version="2")
    from kitecli.run.lanes import slug

    held = folder / slug({"day": "2024-01-01"})
    claim = claims.take(held)  # this test is the other apply holding that datum's folder
    assert claim is not None
    try:
        result = kite("apply", "--env", "a", cwd=tmp_path, env={"KITE_WORKDIR_WAIT": "0.5"})
    finally:
        claim.release()
    assert result.code == 1, result.stderr
    assert f"another apply held it for 0.5s (KITE_WORKDIR_WAIT): {held}" in result.stderr
    assert "waiting (at most 0.5s) for another apply" in result.stderr
    assert kite("apply", "--env", "a", cwd=tmp_path).code == 0  # the datum runs once freed


def test_a_claim_is_exclusive_and_dies_with_its_holder(tmp_path: Path) -> None:
    folder = tmp_path / "stage" / "datum"
    first = claims.take(folder)
    assert first is not None
    assert claims.take(folder) is None  # flock is per open file: the second one is refused
    fd = os.open(claims.lock_path(folder), os.O_RDWR)
    try:
        # what a crashed holder leaves: the kernel drops its lock with its last descriptor
        os.close(first.fd)
        first.fd = -1
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    second = claims.take(folder)
    assert second is not None
    second.release()
    assert not claims.lock_path(folder).exists()


def test_leftover_datum_folders_are_swept_by_the_next_apply(tmp_path: Path) -> None:
    project(tmp_path)
    leftover = tmp_path / ".kite" / "work" / "echo" / "0123456789abcdef"
    write(leftover, {"in/raw/x.csv": "x", "out/echo/x.txt": "half written"})
    (tmp_path / ".kite" / "work" / "echo" / "fedcba9876543210.lock").write_text("")
    assert kite("apply", "--env", "a", cwd=tmp_path).code == 0
    assert not (tmp_path / ".kite" / "work").exists()
