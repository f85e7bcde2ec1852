"""`code:` inferred: the project files a stage's command names are part of its fingerprint.

An argv item is a project file when, with no `{{ }}` in it, it is a relative path to a file
that exists in the project folder and lies outside every folder kite keeps data or state in
(`.kite/`, each environment's data root, metadata repo and cache): `steps/clean.py`, and as
well the `steps/clean.py` of `python3 steps/clean.py` or of `Rscript steps/plot.R`.
An item that looks like a project file (`x/y.ext`) but is none is reported by
`kite validate` as a warning: a misspelt script would otherwise be left out silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

PATH_LIKE = re.compile(r"[\w.+-]+(?:/[\w.+-]+)+\.[A-Za-z0-9]+")  # relative, x/y.ext


def _candidates(command: Sequence[str]) -> Iterator[tuple[int, str]]:
    """The argv items that may name a file: no template, not an option, not absolute."""
    for index, item in enumerate(command):
        if "{{" in item or item.startswith(("-", "/", "~")) or "://" in item or not item:
            continue
        yield index, item


def _outside(path: Path, skip: Iterable[Path]) -> bool:
    return not any(path == s or s in path.parents for s in skip)


def named_files(root: Path, command: Sequence[str], skip: Iterable[Path]) -> list[str]:
    """The project files the command names, as paths relative to `root`, in argv order."""
    found: list[str] = []
    folders = list(skip)
    for _, item in _candidates(command):
        path = (root / item).resolve()
        if not path.is_file() or root not in path.parents or not _outside(path, folders):
            continue
        rel = path.relative_to(root).as_posix()
        if rel not in found:
            found.append(rel)
    return found


def missing(root: Path, command: Sequence[str], skip: Iterable[Path]) -> list[tuple[int, str]]:
    """(index, item) of each argv item that looks like a project file but is not one."""
    folders = list(skip)
    return [
        (index, item)
        for index, item in _candidates(command)
        if PATH_LIKE.fullmatch(item)
        and not (root / item).exists()
        and _outside((root / item).resolve(), folders)
    ]
