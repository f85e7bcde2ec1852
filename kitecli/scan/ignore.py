"""What is not part of an input: `exclude:` globs and `.kiteignore` files (gitignore syntax).

A `.kiteignore` applies to its folder and every folder below it, like a `.gitignore`; a
deeper one is read after a shallower one, so it may re-include (`!keep.csv`) what the
other excluded. The `.kiteignore` file itself is never data. Version-control folders
never reach a manifest at all (kitecli/scan/walker.py). `pathspec` is imported only when
there is something to match: a scan with no exclusions does not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kitecli.scan.manifest import FileEntry, Manifest, from_files

IGNORE_FILE = ".kiteignore"


class GlobError(ValueError):
    """A glob gitignore syntax cannot read."""


def compile_globs(globs: Iterable[str]) -> Any:
    """The matcher of gitignore-style `globs`; raise GlobError for one it cannot read."""
    import pathspec

    try:
        return pathspec.GitIgnoreSpec.from_lines(list(globs))
    except ValueError as exc:  # pathspec's GitIgnorePatternError
        raise GlobError(str(exc)) from exc


def ignore_files(paths: Iterable[str]) -> list[str]:
    """The `.kiteignore` files among `paths`, shallowest first."""
    found = [p for p in paths if p == IGNORE_FILE or p.endswith("/" + IGNORE_FILE)]
    return sorted(found, key=lambda p: p.count("/"))


def read_rules(root: Path, files: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The lines of each `.kiteignore` under `root`, by relative path (unreadable: none)."""
    rules: dict[str, tuple[str, ...]] = {}
    for rel in files:
        try:
            rules[rel] = tuple((root / rel).read_text(errors="replace").splitlines())
        except OSError:
            rules[rel] = ()
    return rules


def exclude(part: Manifest, globs: Iterable[str] = ()) -> tuple[Manifest, dict[str, str]]:
    """`part` without what its `.kiteignore` files and `globs` exclude, and why each
    excluded path is left out (`part` itself when nothing is to be excluded)."""
    globs = tuple(globs)
    if not part.ignores and not globs:
        return part, {}
    rules = {rel: _lenient(lines) for rel, lines in sorted(part.ignores.items(), key=_depth)}
    own = compile_globs(globs) if globs else None
    kept: dict[str, FileEntry] = {}
    left_out: dict[str, str] = {}
    for path, entry in part.files.items():
        why = excluded_by(path, rules, own)
        if why is None:
            kept[path] = entry
        else:
            left_out[path] = why
    if not left_out:
        return part, {}
    return from_files(kept), left_out


def _depth(item: tuple[str, object]) -> int:
    return item[0].count("/")


def _lenient(lines: Iterable[str]) -> Any:
    """A `.kiteignore`'s matcher, leaving out the lines gitignore syntax cannot read."""
    good = []
    for line in lines:
        try:
            compile_globs([line])
        except GlobError:
            continue
        good.append(line)
    return compile_globs(good)


def excluded_by(path: str, rules: Mapping[str, Any], globs: Any = None) -> str | None:
    """Why `path` is not part of the input (None: it is), given `.kiteignore` matchers by
    file (shallowest first) and the input's own `exclude:` matcher."""
    why = None
    for rel, spec in rules.items():
        if path == rel:
            return "the ignore file itself"
        folder = rel[: -len(IGNORE_FILE)]  # "" or "some/dir/"
        if folder and not path.startswith(folder):
            continue
        result = spec.check_file(path[len(folder) :])
        if result.include is not None:
            why = rel if result.include else None
    if globs is not None:
        result = globs.check_file(path)
        if result.include is not None:
            why = "exclude:" if result.include else why
    return why
