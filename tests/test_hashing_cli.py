"""`kite hash`: the same answers and errors on the fast path as through typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kitecli.scan.manifest import scan


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for i in range(12):
        path = root / f"part{i % 3}" / f"{i}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"id,value\n{i},{i * i}\n")
    return root


def hash_env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "xdg")}


def test_json_has_digest_files_and_bytes(run_kite, tmp_path: Path, data: Path) -> None:
    result = run_kite("hash", str(data), "--json", env=hash_env(tmp_path))
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    expected = scan(data)
    assert doc == {"digest": expected.digest, "files": 12, "bytes": expected.bytes}


def test_plain_output_starts_with_the_digest(run_kite, tmp_path: Path, data: Path) -> None:
    result = run_kite("hash", str(data), env=hash_env(tmp_path))
    assert result.code == 0, result.stderr
    digest, files, _, nbytes, _ = result.stdout.split()
    assert (digest, int(files), int(nbytes)) == (scan(data).digest, 12, scan(data).bytes)


def test_the_stat_cache_saves_reading(run_kite, tmp_path: Path, data: Path) -> None:
    env = hash_env(tmp_path)
    first = run_kite("hash", str(data), "--stats", env=env)
    assert "hashed 12 of 12 files" in first.stderr
    assert str(tmp_path / "xdg" / "kite" / "state.db") in first.stderr
    # files written within the racy window (2 s) are read again by the next run; after it,
    # none is
    time.sleep(max(0.0, 2.1 - (time.time() - (data / "part0" / "0.csv").stat().st_ctime)))
    settling = run_kite("hash", str(data), "--stats", "--parallel", "1", env=env)
    later = run_kite("hash", str(data), "--stats", env=env)
    assert later.stdout == settling.stdout == first.stdout
    assert "hashed 12 of 12 files" in settling.stderr  # racy the first time: not trusted
    assert "hashed 0 of 12 files" in later.stderr
    cold = run_kite("hash", str(data), "--stats", "--no-cache", env=env)
    assert "hashed 12 of 12 files" in cold.stderr
    assert "no stat cache" in cold.stderr


def test_inside_a_project_the_cache_is_the_projects(run_kite, tmp_path: Path, data: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text("kite: 1\n")
    result = run_kite("hash", "data", "--stats", env=hash_env(tmp_path))
    assert result.code == 0, result.stderr
    assert (tmp_path / ".kite" / "state.db").is_file()
    assert not (tmp_path / "xdg").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hash", "missing"], "error: no such directory: missing"),
        (["hash", "file.txt"], "error: not a directory: file.txt"),
        (["hash", "-j", "0", "."], "error: --parallel must be at least 1"),
    ],
)
def test_errors_are_usage_errors(run_kite, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    result = run_kite(*args, env=hash_env(tmp_path))
    assert result.code == 64
    assert message in result.stderr
    assert "hint: kite hash takes a directory" in result.stderr or "--parallel" in message


def test_unreadable_entries_are_named(run_kite, tmp_path: Path, data: Path) -> None:
    os.mkfifo(data / "part1" / "pipe")
    result = run_kite("hash", str(data), env=hash_env(tmp_path))
    assert result.code == 3
    assert f"{data / 'part1' / 'pipe'}: a named pipe, not a regular file" in result.stderr
    assert "hint: move named pipes" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "spellings",
    [
        [["hash", "data", "--json"], ["hash", "--json", "data"]],
        [["hash", "data", "-j", "2"], ["hash", "-j2", "data"], ["hash", "--parallel=2", "data"]],
        [["hash", "--no-cache", "data"], ["hash", "data", "--no-cache"]],
    ],
)
def test_spellings_of_one_command_line_answer_alike(
    run_kite, tmp_path: Path, data: Path, spellings: list[list[str]]
) -> None:
    env = hash_env(tmp_path)
    answers = {(r.code, r.stdout) for r in (run_kite(*args, env=env) for args in spellings)}
    assert len(answers) == 1
    [(code, stdout)] = answers
    assert code == 0
    assert scan(data).digest in stdout


def test_help_has_an_example(run_kite) -> None:
    result = run_kite("hash", "--help")
    assert result.code == 0
    assert "kite hash data/raw --json" in result.stdout
    assert "hash" in run_kite("--help").stdout


HASH_AND_REPORT = """
import sys
from kitecli.cli.main import run
code = run(sys.argv[1:])
heavy = {"pydantic", "kitecli.plan", "kitecli.run"} & set(sys.modules)
print(code, *sorted(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [["hash", "data"], ["hash", "data", "--json", "--stats", "--no-cache"], ["hash", "--help"]],
)
def test_hash_converts_its_options_without_pydantic(tmp_path: Path, data: Path, argv) -> None:
    """typer's pydantic validators cost ~0.1 s of start-up: `kite hash` needs none."""
    env = {**os.environ, **hash_env(tmp_path)}
    command = [sys.executable, "-c", HASH_AND_REPORT, *argv]
    out = subprocess.run(command, cwd=data.parent, env=env, capture_output=True, text=True)
    assert out.stderr.splitlines()[-1] == "0", out.stderr


def test_an_option_that_needs_pydantic_still_gets_it(run_kite, tmp_path: Path, data: Path) -> None:
    result = run_kite("hash", str(data), "-j", "x", env=hash_env(tmp_path))
    assert result.code == 64
    assert "Input should be a valid integer" in result.stderr
    assert run_kite("hash", str(data), "-j", "1", env=hash_env(tmp_path)).code == 0
