"""Working folders handed from one datum to the next (run/spares.py): the next datum finds
exactly what a folder made anew holds, whatever the last command left in it."""

from __future__ import annotations

import os
from pathlib import Path

from kitecli.run import claims
from kitecli.run.spares import Spares
from tests.helpers import kite, write

KEEP = {"in", "out", "out/o", "tmp", "lists"}


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def used_folder(stage: Path, outside: Path) -> Path:
    """A datum's folder as a command may leave it: views, files, folders, a link out."""
    folder = stage / "datum-a"
    for rel in KEEP:
        (folder / rel).mkdir(parents=True, exist_ok=True)
    (folder / "in" / "src").mkdir()
    (folder / "in" / "src" / "a.csv").symlink_to(outside / "data.csv")
    (folder / "in" / "src" / "stray.txt").write_text("written into a view")
    (folder / "tmp" / "deep" / "er").mkdir(parents=True)
    (folder / "tmp" / "deep" / "er" / "f").write_text("x")
    (folder / "lists" / "src").write_text("in/src/a.csv\n")
    os.rmdir(folder / "out" / "o")  # replaced by a link out of the folder
    (folder / "out" / "o").symlink_to(outside, target_is_directory=True)
    (folder / "extra").mkdir()
    return folder


def test_a_spare_holds_only_the_skeleton_and_the_data_it_linked_to_is_untouched(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "data"
    outside.mkdir()
    (outside / "data.csv").write_text("raw")
    stage = tmp_path / "work" / "stage"
    spares = Spares()
    assert spares.give(used_folder(stage, outside), KEEP)
    assert not (stage / "datum-a").exists()
    assert spares.take(stage / "datum-b")
    assert tree(stage / "datum-b") == sorted(KEEP)
    assert tree(outside) == ["data.csv"]
    assert not spares.take(stage / "datum-c")  # one spare, taken


def test_a_spare_is_held_while_spare_and_swept_once_given_up(tmp_path: Path) -> None:
    stage = tmp_path / "work" / "stage"
    (stage / "datum-a" / "tmp").mkdir(parents=True)
    spares = Spares()
    assert spares.give(stage / "datum-a", {"tmp"})
    [spare] = [p for p in stage.iterdir() if not p.name.endswith(".lock")]
    claims.sweep(tmp_path / "work")  # another apply's sweep: the spare is held
    assert spare.is_dir()
    spares.release_all()
    assert not spares.take(stage / "datum-b")  # given up: never handed out again
    claims.sweep(tmp_path / "work")
    assert not (tmp_path / "work").exists()


PIPELINE = """\
kite: 1
name: spares
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  look:
    inputs: {src: {path: in/, each: "{n}.txt"}}
    command: [sh, look.sh, "{{ outputs.out }}", "{{ datum.n }}"]
    outputs: {out: out/}
"""
# what the datum's folder holds, then leftovers for the next datum to not see
LOOK = """\
cd "$TMPDIR/.." && find . ! -name '*.seen' | sort > "$1/$2.seen"
mkdir -p tmp/t in/src/v && echo x > tmp/t/f
"""


def test_each_datum_sees_its_folder_as_if_made_anew(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"pipeline.yaml": PIPELINE, "look.sh": LOOK, "data/in/1.txt": "1", "data/in/2.txt": "2"},
    )
    write(tmp_path, {"data/in/3.txt": "3"})
    assert kite("apply", "--parallel", "1", cwd=tmp_path).code == 0
    out = tmp_path / "data" / "out"
    seen = {p.stem: p.read_text().replace(p.stem, "N") for p in out.iterdir()}
    assert seen["1"] == seen["2"] == seen["3"]
    assert "./in/src/N.txt" in seen["1"].splitlines()
    assert "./tmp/t" not in seen["1"].splitlines()  # what the datum before left is gone
    assert not (tmp_path / ".kite" / "work").exists()
