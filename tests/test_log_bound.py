"""A command that prints 1 GB: the apply succeeds, keeps only the last KITE_LOG_MAX_MB of
its output (with a note saying what was dropped), and its memory does not grow with it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import kite, write

PIPELINE = """\
kite: 1
name: loud
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  loud:
    command: [sh, -c, 'SCRIPT', sh, "{{ outputs.out }}"]
    outputs:
      out: out/
"""

SCRIPT = 'yes kite | head -c 1073741824; echo; echo the last line; echo done > "$1/done.txt"'
PIPELINE = PIPELINE.replace("SCRIPT", SCRIPT)

# runs `kite apply` and prints the peak resident memory of it (and what it ran), in KiB
PEAK = textwrap.dedent(
    """\
    import resource, subprocess, sys
    done = subprocess.run([sys.executable, "-m", "kitecli", "apply", "--yes"])
    print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """
)


def test_a_gigabyte_of_output_keeps_its_end_within_64_mib(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE})
    ran = subprocess.run(
        [sys.executable, "-c", PEAK], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    code, peak_kib = map(int, ran.stdout.split())
    assert code == 0, ran.stderr
    print(f"peak memory of kite apply printing 1 GB: {peak_kib / 1024:.0f} MiB")
    assert peak_kib < 200 * 1024
    assert (tmp_path / "data/out/done.txt").read_text() == "done\n"
    logs = kite("logs", "last", cwd=tmp_path)
    assert logs.code == 0, logs.stderr
    assert "[kite] log truncated: the first " in logs.stdout
    assert "of 1,073,741,839 bytes were dropped" in logs.stdout
    assert logs.stdout.rstrip().endswith("the last line")
    assert 32 << 20 <= len(logs.stdout) < (64 << 20) + (1 << 20)  # half to all of the limit
    shown = json.loads(kite("show", "last", "--json", cwd=tmp_path).stdout)
    assert [a["status"] for a in shown["attempts"]] == ["succeeded"]


def test_a_small_log_is_kept_whole(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE.replace("head -c 1073741824", "head -c 100")})
    assert kite("apply", "--yes", cwd=tmp_path).code == 0
    logs = kite("logs", "last", cwd=tmp_path).stdout
    assert "truncated" not in logs
    assert logs.count("kite") == 20
