"""Through the `kite` command, with real tools: an output that holds a link out of it, a
FIFO, or a file in place of its folder fails the attempt (exit 1, not retried), says
what and where, and nothing of it reaches the store or the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shell_stage import apply_script, statuses


@pytest.mark.parametrize(
    ("script", "said"),
    [
        ('ln -s /etc/passwd "$2/passwd"', "made/passwd: a symbolic link to /etc/passwd, outside"),
        ('cp "$1"/* "$2"/ && ln -s missing.fa "$2/gone.fa"', "which does not exist"),
        ('cp "$1"/* "$2"/ && mkfifo "$2/pipe"', "made/pipe: a FIFO"),
        (
            'rmdir "$2" && sort "$1"/*.fa > "$2"',
            "replaced the output folder {{ outputs.made }} with a file",
        ),
        ('rmdir "$2"', "removed the output folder {{ outputs.made }}"),
    ],
)
def test_an_unfit_output_fails_the_attempt(tmp_path: Path, script: str, said: str) -> None:
    code, stderr = apply_script(tmp_path, script)
    assert code == 1, stderr
    assert said in stderr
    assert statuses(tmp_path) == ["failed"]  # not retried: it would do the same again
    assert not (tmp_path / "data" / "made").exists()
    blobs = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert all(b.read_bytes() != Path("/etc/passwd").read_bytes() for b in blobs)


def test_a_link_to_a_file_of_the_output_is_stored_as_a_copy(tmp_path: Path) -> None:
    code, stderr = apply_script(tmp_path, 'cp "$1"/chr1.fa "$2"/ && ln -s chr1.fa "$2/latest.fa"')
    assert code == 0, stderr
    latest = tmp_path / "data" / "made" / "latest.fa"
    assert not latest.is_symlink()
    assert latest.read_text() == ">chr1\nACGT\n"
