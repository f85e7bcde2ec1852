"""File names that are not valid UTF-8 in a keyed input: plan, apply, log and show handle
them (no traceback); the output keeps the name's raw bytes; a second plan has no changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import kite, write

PIPELINE = """\
kite: 1
name: odd
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  copy:
    inputs:
      raw: {path: raw/, each: "{name}.txt"}
    command: [sh, -c, 'cp "$1"/* "$2"/', sh, "{{ inputs.raw }}", "{{ outputs.copied }}"]
    outputs:
      copied: copied/
"""

ODD = b"caf\xe9.txt"  # Latin-1, not UTF-8


def test_a_file_name_that_is_not_utf8_goes_through(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE, "data/raw/plain.txt": "plain\n"})
    with open(os.fsencode(tmp_path / "data/raw") + b"/" + ODD, "wb") as odd:
        odd.write(b"odd\n")
    planned = kite("plan", cwd=tmp_path)
    assert planned.code == 0, planned.stderr
    applied = kite("apply", "--yes", cwd=tmp_path)
    assert applied.code == 0, applied.stderr
    assert "Traceback" not in applied.stderr + planned.stderr
    copied = os.listdir(os.fsencode(tmp_path / "data/copied"))
    assert sorted(copied) == sorted([ODD, b"plain.txt"])
    again = kite("plan", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.stdout + again.stderr  # nothing to do
    shown = kite("show", "last", "--json", cwd=tmp_path)
    assert shown.code == 0, shown.stderr
    keys = sorted(a["key"]["name"] for a in json.loads(shown.stdout)["attempts"])
    assert [os.fsencode(k) for k in keys] == [b"caf\xe9", b"plain"]
    for args in (("log",), ("logs", "last"), ("hash", "data/raw"), ("fsck",)):
        done = kite(*args, cwd=tmp_path)
        assert done.code == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr


def _deep(folder: Path) -> None:
    """A tree deeper than PATH_MAX allows a path to be: made one level at a time."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(25):
            os.mkdir("d" * 200, dir_fd=fd)
            below = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
    finally:
        os.close(fd)


def test_a_tree_deeper_than_the_system_allows_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE, "data/raw/plain.txt": "plain\n"})
    _deep(tmp_path / "data/raw")
    for args in (("hash", "data/raw"), ("plan",), ("apply", "--yes")):
        done = kite(*args, cwd=tmp_path)
        assert done.code == 3, (args, done.stderr)
        assert "path longer than the system allows (ENAMETOOLONG)" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "data/copied").exists()
