"""Through the `kite` command, with real tools: a command that edits a file of its input
view (`sed -i`) or adds one to a whole-directory view changes the user's data; the attempt
fails (exit 1, not retried) and names the files, instead of being recorded a success."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shell_stage import apply_script, statuses


@pytest.mark.parametrize(
    "edit", ['sed -i --follow-symlinks s/A/T/ "$1"/chr1.fa', 'echo N >> "$1"/chr1.fa']
)
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
