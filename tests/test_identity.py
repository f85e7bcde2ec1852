"""Identity per environment: a test environment's commands run as its own uid, so file
permissions keep them out of production's data even when they try (needs root to run)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitecli.executors.podspec import service_account
from kitecli.spec import identity
from kitecli.spec.loader import load
from kitecli.store.links import clear
from tests.envs_project import tree_digest
from tests.helpers import kite, write

NOBODY = 65534

PIPELINE = """\
kite: 1
name: ident
environments:
  prod: {{data: ./prod, metadata: ./meta, cache: ./cache}}
  test: {{data: ./test, metadata: ./meta, cache: ./cache, reads: prod, run_as: {uid}}}
stages:
  clean:
    inputs: {{raw: {{path: raw/, each: "{{day}}.csv"}}}}
    version: "{version}"
    env: {{KITE_ENV: "{{{{ env }}}}"}}
    command: [sh, step.sh, "{{{{ inputs.raw }}}}", "{{{{ outputs.clean }}}}"]
    outputs: {{clean: clean/}}
"""

# In the test environment, each datum first tries to tamper with production through its
# input view: append to the linked file, make it writable, plant a file beside it, and
# append to prod's committed outputs. Every success is logged to attacks.log.
STEP = """\
in=$1; out=$2
for f in "$in"/*; do
  name=$(basename "$f")
  if [ "$KITE_ENV" = test ]; then
    real=$(readlink -f "$f")
    echo "tried $name" >> tried.log
    if (echo tampered >> "$real") 2>/dev/null; then echo "wrote $real" >> attacks.log; fi
    if chmod 666 "$real" 2>/dev/null; then echo "chmod $real" >> attacks.log; fi
    dir=$(dirname "$real")
    if (echo x > "$dir/planted.csv") 2>/dev/null; then echo "planted" >> attacks.log; fi
    for g in "$(dirname "$dir")"/clean/*; do
      if (echo tampered >> "$g") 2>/dev/null; then echo "wrote $g" >> attacks.log; fi
      if chmod 666 "$g" 2>/dev/null; then echo "chmod $g" >> attacks.log; fi
    done
  fi
  { tr a-z A-Z < "$f"; id -u; } > "$out/$name"
done
"""


@pytest.fixture
def project() -> Iterator[Path]:
    """A project every user can reach (pytest's own temporary folders are root's only)."""
    root = Path(tempfile.mkdtemp(prefix="kite-identity-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        clear(root)


@pytest.mark.skipif(os.geteuid() != 0, reason="running commands as another uid needs root")
def test_test_commands_run_as_their_own_uid_and_cannot_touch_prod(project: Path) -> None:
    write(project, {"pipeline.yaml": PIPELINE.format(uid=NOBODY, version=1), "step.sh": STEP})
    write(project, {f"prod/raw/2024-01-0{d}.csv": f"day {d}\n" for d in (1, 2)})
    for log in ("tried.log", "attacks.log"):
        (project / log).touch(mode=0o666)
        (project / log).chmod(0o666)
    prod = kite("apply", "--env", "prod", cwd=project)
    assert prod.code == 0, prod.stderr
    assert (project / "prod/clean/2024-01-01.csv").read_text() == "DAY 1\n0\n"  # as root
    before = tree_digest(project / "prod")
    # a changed stage, applied to test: it runs there (prod never computed it)
    (project / "pipeline.yaml").write_text(PIPELINE.format(uid=NOBODY, version=2))
    test = kite("apply", "--env", "test", cwd=project)
    assert test.code == 0, test.stderr
    assert (project / "test/clean/2024-01-01.csv").read_text() == f"DAY 1\n{NOBODY}\n"
    assert sorted((project / "tried.log").read_text().split("\n")[:-1]) == [
        "tried 2024-01-01.csv",
        "tried 2024-01-02.csv",
    ]
    assert (project / "attacks.log").read_text() == ""  # every attempt was refused
    assert tree_digest(project / "prod") == before
    assert "warning" not in test.stderr


def test_reads_environment_without_run_as_is_warned_about_as_root(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE.replace(", run_as: {uid}", "").format(version=1)})
    pipeline = load(tmp_path / "pipeline.yaml")
    test, prod = pipeline.environments["test"], pipeline.environments["prod"]
    (warned,) = identity.warnings(pipeline, test, euid=0)
    assert "environment 'test' has no run_as" in warned
    assert identity.warnings(pipeline, test, euid=1000) == []
    assert identity.warnings(pipeline, prod, euid=0) == []


def test_service_accounts_differ_per_environment(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE.format(uid=NOBODY, version=1)})
    pipeline = load(tmp_path / "pipeline.yaml")
    stage = pipeline.stages["clean"]
    assert service_account("prod", "ident", stage) == "kite-prod-ident-clean"
    assert service_account("test", "ident", stage) == "kite-test-ident-clean"
    fixed = type(stage)(**{**stage.__dict__, "identity": "etl-{env}"})
    assert service_account("test", "ident", fixed) == "etl-test"
