"""Scan a directory with the stat cache over every core: the engine behind manifests.

The parent lists the top of the tree until it has enough subtrees to share and forks one
worker per core; each worker walks whole subtrees (kitecli/scan/walker.py) and sends its
results in batches, which the parent stores in the stat cache as they arrive. The parent
then finishes the directories above the subtrees and reports every entry it could not
hash at once. `kite hash` calls `summarize` straight from here: this module and those it
imports stay clear of typer, typing and dataclasses."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

from kitecli.scan.hashing import to_text
from kitecli.scan.statcache import DirRecord, StatCache
from kitecli.scan.walker import Chain, Outcome, Walker, _join
from kitecli.scan.workers import Send, can_fork, cores, fork_each

SHARE = 4  # list the top of the tree until there are this many subtrees per process
MIN_SHARED = 2  # fewer subtrees than this are walked here, without forking
MAX_JOBS = 8
SMALL_TREE = 2_000  # files: below this, forking costs more than a second core gives

Subtree = tuple[str, str, Chain]  # root-relative path, real path, chain (kitecli/scan/walker.py)
Store = Callable[[dict[str, DirRecord]], None]


class Summary(tuple[str, int, int, int, int]):
    """A directory's root digest, file count and bytes, and how much the scan had to read."""

    __slots__ = ()

    def __new__(
        cls, digest: str, files: int, nbytes: int, hashed: int = 0, hashed_bytes: int = 0
    ) -> Summary:
        return tuple.__new__(cls, (digest, files, nbytes, hashed, hashed_bytes))

    @property
    def digest(self) -> str:
        return self[0]

    @property
    def files(self) -> int:
        return self[1]

    @property
    def bytes(self) -> int:
        return self[2]

    @property
    def hashed(self) -> int:
        """Files read by this scan (the rest came from the stat cache)."""
        return self[3]

    @property
    def hashed_bytes(self) -> int:
        return self[4]

    def __repr__(self) -> str:
        return "Summary(digest={!r}, files={}, bytes={}, hashed={}, hashed_bytes={})".format(*self)


def scan_tree(
    root: str,
    records: dict[str, DirRecord],
    *,
    want_files: bool,
    jobs: int = 1,
    fetch: Callable[[str], bytes | None] | None = None,
    store: Store | None = None,
) -> Outcome:
    """Walk the directory `root` (real, absolute) with `jobs` processes.

    With `jobs` > 1 the walk runs in that many forked workers, and `store` (if given) is
    called here with the cache rows of each batch of directories they send, while they
    go on; rows passed to `store` are left out of the result (their `DirOut` row is None).
    """
    alone = can_fork()  # no other thread: free to fork, and to change directory
    try:
        here = os.getcwd() if alone else None
    except OSError:  # the working directory is gone: stay out of it
        here = None
    walker = Walker(root, records, want_files=want_files, fetch=fetch, relative=here is not None)
    try:
        return _walk(walker, jobs if alone else 1, store)
    finally:
        if here is not None:
            os.chdir(here)


def _walk(walker: Walker, jobs: int, store: Store | None) -> Outcome:
    out = Outcome()
    top = [walker.visit("", walker.root, None, out)]
    frontier = [(_join("", n), r, c) for n, r, c in top[0].subdirs]
    while jobs > 1 and 0 < len(frontier) < SHARE * jobs:  # too few subtrees to share yet
        level = [walker.visit(rel, real, chain, out) for rel, real, chain in frontier]
        top += level
        frontier = [(_join(v.rel, n), r, c) for v in level for n, r, c in v.subdirs]
    if jobs > 1 and len(frontier) >= MIN_SHARED:
        _share(walker, frontier, jobs, store, out)
    else:
        for rel, real, chain in frontier:
            walker.walk(rel, real, chain, out)
    trees = {rel: tree for rel, tree, *_ in out.dirs}
    for visit in reversed(top):  # deepest first: every subdirectory is done
        subs = [(n, trees[_join(visit.rel, n)]) for n, _, _ in visit.subdirs]
        trees[visit.rel] = walker.finish(visit, subs, out)
    return out


def _share(
    walker: Walker, frontier: list[Subtree], jobs: int, store: Store | None, out: Outcome
) -> None:
    """Walk the subtrees in `jobs` forked workers; store their rows as batches arrive.

    This process only gathers: the workers have the cores, and what it does between
    their batches (decoding them, writing the stat cache) overlaps with their walking.
    """

    def work(share: list[Subtree], send: Send) -> None:
        part = Outcome()
        part.spill = lambda: send(part.take())
        for rel, real, chain in share:
            walker.walk(rel, real, chain, part)
        send(part.take())

    def take(data: bytes) -> None:
        part = Outcome.load(data)
        if store is not None:
            rows = {d[0]: DirRecord(*d[4]) for d in part.dirs if d[4] is not None}  # type: ignore[arg-type]
            if rows:
                store(rows)
                part.dirs = [(*d[:4], None, d[5]) for d in part.dirs]
        out.add(part)

    fork_each(work, [frontier[i::jobs] for i in range(jobs)], take)


def run(
    root: str | os.PathLike[str],
    *,
    cache: StatCache | None = None,
    jobs: int | None = None,
    want_files: bool,
) -> Outcome | None:
    """Scan `root` (None if it does not exist); raise KiteError naming every unreadable entry.

    What was learnt is stored in `cache` even when some entries could not be hashed.
    """
    real = os.path.realpath(root)
    if not os.path.isdir(real):
        if os.path.lexists(root):
            from kitecli.errors import KiteError

            raise KiteError(f"not a directory: {root}", hint="pass the directory that holds it")
        return None
    records = cache.load(real, entries=want_files) if cache is not None else {}
    out = scan_tree(
        real,
        records,
        want_files=want_files,
        jobs=jobs or _default_jobs(records),
        fetch=None if cache is None else partial(cache.entries, real),
        store=None if cache is None else partial(cache.save, real, gone=()),
    )
    if cache is not None:  # what the workers' batches did not already store
        changed = {d[0]: DirRecord(*d[4]) for d in out.dirs if d[4] is not None}  # type: ignore[arg-type]
        cache.save(real, changed, records.keys() - {d[0] for d in out.dirs})
    if out.problems:
        raise _problems(os.fspath(root), out.problems)
    return out


def _default_jobs(records: dict[str, DirRecord]) -> int:
    """One worker per core, or none for a tree the cache knows to be small."""
    if records and sum(r.files for r in records.values()) < SMALL_TREE:
        return 1
    return min(cores(), MAX_JOBS)


def summarize(
    root: str | os.PathLike[str], *, cache: StatCache | None = None, jobs: int | None = None
) -> Summary:
    """The root digest, file count and bytes of `root`, without listing every file."""
    out = run(root, cache=cache, jobs=jobs, want_files=False)
    if out is None:
        from kitecli.scan.hashing import digest_bytes
        from kitecli.scan.trees import TREE_HEADER

        return Summary(digest_bytes(TREE_HEADER), 0, 0)
    root_tree = next(tree for rel, tree, *_ in out.dirs if rel == "")
    files = sum(d[2] for d in out.dirs)
    nbytes = sum(d[3] for d in out.dirs)
    return Summary(to_text(root_tree), files, nbytes, out.hashed, out.hashed_bytes)


_HINTS = {
    "not a regular file": "move named pipes, sockets and devices out of the directory",
    "unreadable": "make the files readable (chmod) or move them out of the directory",
    "outside the directory": "copy the target into the directory, or link only within it",
    "broken symlink": "remove or repair the symlinks",
    "symlink loop": "remove the symlinks that point at a directory above them",
    "kept changing": "wait until whatever writes to the files is done, then run again",
}


def _problems(root: str, problems: list[tuple[str, str]]) -> Exception:
    from kitecli.errors import KiteError

    shown = sorted(problems)[:20]
    lines = [f"  {os.path.join(root, rel) if rel != '.' else root}: {what}" for rel, what in shown]
    if len(problems) > len(shown):
        lines.append(f"  … and {len(problems) - len(shown)} more")
    hints = [h for key, h in _HINTS.items() if any(key in what for _, what in problems)]
    noun = "entry" if len(problems) == 1 else "entries"
    return KiteError(
        f"cannot hash {root}: {len(problems)} {noun} kite cannot read\n" + "\n".join(lines),
        hint="; ".join(hints) or None,
    )
