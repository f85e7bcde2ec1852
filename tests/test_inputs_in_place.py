"""Through the `kite` command, with real tools, as root: a command cannot edit a file of its
input view (`sed -i --follow-symlinks`, `>>`) nor add one to a whole-directory view, which
are read-only to it (kitecli/executors/readonly.py): the data stays as it was and the attempt
fails. Where read-only views are off (`KITE_READONLY_VIEWS=0`, or no mount namespace), the
edit lands in the user's data and kite fails the attempt (exit 1, not retried) naming the
files, instead of recording a success."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import shell_stage
from tests.shell_stage import statuses

CHECKED = {"KITE_READONLY_VIEWS": "0"}  # no read-only views: the check after the attempt
GENOME = ">chr1\nACGT\n"
EDITS = ['sed -i --follow-symlinks s/A/T/ "$1"/chr1.fa', 'echo N >> "$1"/chr1.fa']


def apply_script(root: Path, script: str, *, each: bool = True) -> tuple[int, str]:
    return shell_stage.apply_script(root, script, each=each, env=CHECKED)


# (edit, keyed): a keyed view is a folder of this datum's (a new file there is the
# command's own), a whole-directory view is the data's folder itself
WRITES = [(e, k) for e in EDITS for k in (True, False)] + [('echo i > "$1"/chr1.fa.idx', False)]


@pytest.mark.parametrize(("edit", "each"), WRITES)
def test_a_command_cannot_write_through_its_read_only_input_view(
    tmp_path: Path, edit: str, each: bool
) -> None:
    code, stderr = shell_stage.apply_script(tmp_path, edit + ' && cp "$1"/* "$2"/', each=each)
    assert code == 1, stderr
    assert "Read-only file system" in stderr, stderr  # the command's own words, shown by apply
    assert sorted(p.name for p in (tmp_path / "data/genome").iterdir()) == ["chr1.fa"]
    assert (tmp_path / "data/genome/chr1.fa").read_text() == GENOME
    assert set(statuses(tmp_path)) == {"failed"}
    assert not (tmp_path / "data" / "made").exists()


@pytest.mark.parametrize("edit", EDITS)
def test_a_command_that_edits_its_input_file_fails(tmp_path: Path, edit: str) -> None:
    code, stderr = apply_script(tmp_path, edit + ' && cp "$1"/* "$2"/')
    assert code == 1, stderr
    assert "changed its inputs in place: data/genome/chr1.fa (changed)" in stderr
    assert statuses(tmp_path) == ["failed"]
    assert not (tmp_path / "data" / "made").exists()


def test_a_tool_that_replaces_the_link_in_its_view_leaves_the_data_alone(tmp_path: Path) -> None:
    """`sed -i` writes a new file in place of the view's link: the data is untouched."""
    code, stderr = apply_script(tmp_path, 'sed -i s/A/T/ "$1"/chr1.fa && cp "$1"/* "$2"/')
    assert code == 0, stderr
    assert (tmp_path / "data" / "genome" / "chr1.fa").read_text() == ">chr1\nACGT\n"
    assert (tmp_path / "data" / "made" / "chr1.fa").read_text() == ">chr1\nTCGT\n"


def test_a_command_that_writes_into_a_whole_directory_view_fails(tmp_path: Path) -> None:
    script = 'echo index > "$1"/chr1.fa.idx && cp "$1"/chr1.fa "$2"/'
    code, stderr = apply_script(tmp_path, script, each=False)
    assert code == 1, stderr
    assert "data/genome/chr1.fa.idx (added)" in stderr
    assert statuses(tmp_path) == ["failed"]


def test_a_command_that_fails_after_editing_its_input_says_so(tmp_path: Path) -> None:
    code, stderr = apply_script(tmp_path, 'echo N >> "$1"/chr1.fa && exit 3')
    assert code == 1, stderr
    assert "changed its inputs in place" in stderr
    assert statuses(tmp_path) == ["failed"]  # not retried over the changed data


def test_a_command_that_only_reads_its_inputs_succeeds(tmp_path: Path) -> None:
    code, stderr = apply_script(tmp_path, 'cat "$1"/chr1.fa > "$2"/copy.fa', each=False)
    assert code == 0, stderr
    assert (tmp_path / "data" / "made" / "copy.fa").read_text() == ">chr1\nACGT\n"
