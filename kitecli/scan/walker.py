"""Walk subtrees against the stat cache, bottom-up, hashing only the files whose stat moved.

Per directory: list it, lstat every entry, and compare the signature of the listing
(names and stats) with the cache row; only a directory whose signature moved is checked
file by file, and only a file whose stat moved is read. Each directory yields its tree
digest, counts and, when something changed, the cache row to store.

The classes here are plain slotted classes, not dataclasses: `kite hash` imports this
module on its hot path, and importing `dataclasses` costs more than an unchanged scan of a
thousand directories.
"""

from __future__ import annotations

import errno
import marshal
import os
import stat
import time
from collections.abc import Callable

from kitecli.scan.hashing import FileChanged, hash_checked, quick_digest, raw_digest, read_buffer
from kitecli.scan.statcache import DirRecord, FileStats, decode_stats, encode_stats
from kitecli.scan.trees import FS_ENCODING, FS_ERRORS, FileRow, encode_tree, signature

TOO_LONG = "path longer than the system allows (ENAMETOOLONG): move or rename it"
EXCLUDED = ".kite"  # kite's own state is never data
# version-control folders are never data either: `git status` rewriting .git/index must
# not change a folder's digest
VCS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj"})
SKIPPED = VCS | {EXCLUDED}
RACY_NS = 2_000_000_000  # files touched this close to a scan are hashed again by the next one
SPILL_FILES, SPILL_DIRS = 2_000, 64  # how much a worker gathers before it sends it on
_FS = (FS_ENCODING, FS_ERRORS)  # str.encode(*_FS) is os.fsencode, without its Python frame

Chain = tuple[str, ...] | None  # real paths of the directories above, once a symlink was followed
StatRow = tuple[int, int, int, int, int, bytes | None]
# rel, tree digest, direct files, direct bytes, cache row to store or None, files or None
DirOut = tuple[str, bytes, int, int, tuple[object, ...] | None, list[FileRow] | None]


class Visit:
    """One directory as listed now: its files (None: unchanged, see `record`) and subdirs."""

    __slots__ = ("chain", "files", "previous", "real", "record", "rel", "sig", "stats", "subdirs")

    def __init__(
        self,
        rel: str,
        real: str,
        chain: Chain,
        sig: bytes | None,
        subdirs: list[tuple[str, str, Chain]],  # name, real path, chain below it
        record: DirRecord | None,
        files: list[FileRow] | None = None,
    ) -> None:
        self.rel, self.real, self.chain, self.sig = rel, real, chain, sig
        self.subdirs, self.record, self.files = subdirs, record, files
        self.stats: FileStats = {}  # what the cache will hold about its files
        self.previous: FileStats = {}  # what it held (once looked up)


class Outcome:
    """What a walk found: every directory's output, problems, and how much was hashed.

    With `spill` set, `Walker.finish` calls it whenever `SPILL_DIRS` directories, or
    directories carrying cache rows or file lists for `SPILL_FILES` files, have piled up
    since the last call (a worker sends them on).
    """

    __slots__ = ("dirs", "hashed", "hashed_bytes", "hidden", "pending", "problems", "spill")

    def __init__(self, spill: Callable[[], None] | None = None) -> None:
        self.dirs: list[DirOut] = []
        self.problems: list[tuple[str, str]] = []  # (root-relative path, what is wrong)
        self.hidden: list[str] = []  # root-relative version-control folders left out
        self.hashed = 0
        self.hashed_bytes = 0
        self.pending = 0  # files whose rows or names `dirs` carries, for `spill`
        self.spill = spill

    def add(self, other: Outcome) -> None:
        self.dirs += other.dirs
        self.problems += other.problems
        self.hidden += other.hidden
        self.hashed += other.hashed
        self.hashed_bytes += other.hashed_bytes

    def dump(self) -> bytes:
        return marshal.dumps(
            (self.dirs, self.problems, self.hashed, self.hashed_bytes, self.hidden)
        )

    def take(self) -> bytes:
        """`dump()`, then forget it all: what a worker sends is no longer its to keep."""
        data = self.dump()
        self.dirs, self.problems, self.hashed, self.hashed_bytes, self.pending = [], [], 0, 0, 0
        self.hidden = []
        return data

    @classmethod
    def load(cls, data: bytes) -> Outcome:
        out = cls()
        dirs, problems, out.hashed, out.hashed_bytes, hidden = marshal.loads(data)
        out.dirs, out.problems, out.hidden = list(dirs), list(problems), list(hidden)
        return out


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _below(chain: Chain, real: str, name: str) -> Chain:
    return None if chain is None else (*chain, f"{real}/{name}")


def _listing(path: str) -> list[str]:
    try:
        return [n for n in os.listdir(path) if n not in SKIPPED]
    except OSError:  # gone while we walked
        return []


def _stat_each(prefix: str, names: list[str]) -> tuple[list[str], list[os.stat_result]]:
    """lstat names one by one, leaving out those that vanished since the listing."""
    kept, stats = [], []
    for name in names:
        try:
            stats.append(os.lstat(prefix + name))
        except FileNotFoundError:
            continue
        kept.append(name)
    return kept, stats


def _kind(mode: int) -> str:
    kinds = {
        stat.S_IFIFO: "a named pipe",
        stat.S_IFSOCK: "a socket",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
    }
    return kinds.get(stat.S_IFMT(mode), "a special file")


class Walker:
    """Walks subtrees of `root` (a real, absolute path) against `records`, its cache rows."""

    def __init__(
        self,
        root: str,
        records: dict[str, DirRecord],
        *,
        want_files: bool,
        fetch: Callable[[str], bytes | None] | None = None,
        relative: bool = False,
    ) -> None:
        self.root = root
        # change into each directory to lstat its entries by name: only where no other
        # thread could be relying on the working directory (the caller restores it)
        self.relative = relative
        self.fetch = fetch or (lambda rel: None)  # a directory's per-file rows, if not loaded
        self.inside = root.rstrip("/") + "/"
        self.records = records
        self.want_files = want_files
        self.start_ns = time.time_ns()
        self.buffer = read_buffer()

    def walk(self, rel: str, real: str, chain: Chain, out: Outcome) -> bytes:
        """Walk the subtree at `rel` bottom-up into `out`; return its tree digest."""
        stack: list[tuple[Visit, list[tuple[str, bytes]]]] = [
            (self.visit(rel, real, chain, out), [])
        ]
        while True:
            visit, done = stack[-1]
            if len(done) < len(visit.subdirs):
                name, sub_real, sub_chain = visit.subdirs[len(done)]
                stack.append((self.visit(_join(visit.rel, name), sub_real, sub_chain, out), []))
                continue
            stack.pop()
            tree = self.finish(visit, done, out)
            if not stack:
                return tree
            stack[-1][1].append((visit.rel.rpartition("/")[2], tree))

    def visit(self, rel: str, real: str, chain: Chain, out: Outcome) -> Visit:
        """List one directory; check its files only when its signature moved."""
        path = f"{self.inside}{rel}" if rel else self.root
        prefix = path.rstrip("/") + "/"
        record = self.records.get(rel)
        stats: list[os.stat_result] | None = None
        try:
            if self.relative:  # lstat by bare name: 12% less CPU than by absolute path
                os.chdir(path)
            names = os.listdir("." if self.relative else path)  # stable while unchanged
            if not SKIPPED.isdisjoint(names):
                out.hidden += [_join(rel, n) for n in names if n in VCS]
                names = [n for n in names if n not in SKIPPED]
            if record is not None:  # the signature decides: stat the whole listing first
                stats = list(map(os.lstat, names if self.relative else [prefix + n for n in names]))
        except (FileNotFoundError, NotADirectoryError):  # something vanished while we looked
            names, stats = _stat_each(prefix, _listing(path))
        except PermissionError:
            out.problems.append((rel or ".", "unreadable directory (permission denied)"))
            names, stats = [], []
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            out.problems.append((_short(rel), TOO_LONG))
            names, stats = [], []
        if stats is None:
            return self._fresh(
                Visit(rel, real, chain, None, [], None, files=[]), prefix, names, out
            )
        sig = signature(names, stats)
        if record is not None and record.sig == sig:
            subdirs = [(n, f"{real}/{n}", _below(chain, real, n)) for n in record.subdirs]
            return Visit(rel, real, chain, sig, subdirs, record)
        visit = Visit(rel, real, chain, sig, [], record, files=[])
        problems = len(out.problems)
        trusted = self._check(visit, prefix, names, stats, out)
        if not trusted or len(out.problems) > problems:
            visit.sig = None  # next time, check every file again
        return visit

    def _fresh(self, visit: Visit, prefix: str, names: list[str], out: Outcome) -> Visit:
        """A directory the cache knows nothing of: lstat and hash each file in one pass.

        Regular files take `quick_digest` (one read, fstat after), else `_hash`; the rest
        (directories, symlinks, special files) goes through `_check`.
        """
        lstat, quick, racy_from = os.lstat, quick_digest, self.start_ns - RACY_NS
        here = "" if self.relative else prefix  # open files by name from inside the directory
        buffer, files, rows = self.buffer, visit.files, visit.stats
        assert files is not None
        kept, stats, other_names, other_stats = [], [], [], []
        trusted, problems, hashed, nbytes = True, len(out.problems), 0, 0
        for name in names:
            st = _lstat(lstat, here + name, _join(visit.rel, name), out)
            if st is None:
                continue
            kept.append(name)
            stats.append(st)
            if st.st_mode & 0o170000 != stat.S_IFREG:
                other_names.append(name)
                other_stats.append(st)
                continue
            digest = quick(here + name, st, buffer)
            if digest is None:
                found = self._hash(_join(visit.rel, name), prefix + name, st, out)
                if found is None:
                    continue
                digest, st = found
            size, mtime, ctime = st.st_size, st.st_mtime_ns, st.st_ctime_ns
            hashed, nbytes = hashed + 1, nbytes + size
            files.append((name, digest, size))
            racy = mtime >= racy_from or ctime >= racy_from  # see _check
            rows[name] = (st.st_dev, st.st_ino, size, mtime, ctime, None if racy else digest)
            trusted = trusted and not racy
        out.hashed += hashed
        out.hashed_bytes += nbytes
        if other_names:
            checked = self._check(visit, prefix, other_names, other_stats, out)
            trusted = trusted and checked
        if trusted and len(out.problems) == problems:
            visit.sig = signature(kept, stats)
        return visit

    def _check(
        self, visit: Visit, prefix: str, names: list[str], stats: list[os.stat_result], out: Outcome
    ) -> bool:
        """Sort a changed directory's entries; reuse or compute each file's digest."""
        old = visit.previous = self.stored(visit.rel, visit.record)
        racy_from = self.start_ns - RACY_NS
        files, rows = visit.files, visit.stats
        here = "" if self.relative else prefix  # open files by name from inside the directory
        assert files is not None
        trusted = True
        for name, st in zip(names, stats, strict=True):
            if st.st_mode & 0o170000 != stat.S_IFREG:
                trusted = trusted and not stat.S_ISLNK(st.st_mode)  # its target may move
                target = self._other(visit, name, prefix + name, st, out)
                if target is None:
                    continue
                st = target
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            cached = old.get(name)
            if cached is not None and cached[5] is not None and cached[:5] == key:
                files.append((name, cached[5], cached[2]))
                rows[name] = cached
                continue
            digest = quick_digest(here + name, st, self.buffer)
            if digest is None:
                found = self._hash(_join(visit.rel, name), prefix + name, st, out)
                if found is None:
                    continue
                digest, st = found
                key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            out.hashed += 1
            out.hashed_bytes += st.st_size
            files.append((name, digest, st.st_size))
            # a file touched within the racy window could change again without its stat
            # moving: its digest serves this scan, the next one hashes it again (git's rule)
            if st.st_mtime_ns >= racy_from or st.st_ctime_ns >= racy_from:
                rows[name] = (*key, None)
                trusted = False
            else:
                rows[name] = (*key, digest)
        return trusted

    def _other(
        self, visit: Visit, name: str, path: str, st: os.stat_result, out: Outcome
    ) -> os.stat_result | None:
        """A directory, symlink or special entry: queue it, follow it, or report it."""
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            visit.subdirs.append(
                (name, f"{visit.real}/{name}", _below(visit.chain, visit.real, name))
            )
            return None
        if stat.S_ISLNK(mode):
            target = self._follow(visit, name, path, out)
            return target if target is not None and stat.S_ISREG(target.st_mode) else None
        out.problems.append((_join(visit.rel, name), f"{_kind(mode)}, not a regular file"))
        return None

    def _hash(
        self, rel: str, path: str, st: os.stat_result, out: Outcome
    ) -> tuple[bytes, os.stat_result] | None:
        """Hash a file the careful way: big files, files that move, files that fail."""
        try:
            return hash_checked(path, st, follow=True)
        except FileNotFoundError:
            return None  # deleted since it was listed: it is not there
        except FileChanged:
            out.problems.append((rel, "kept changing while it was being hashed"))
        except OSError as exc:
            out.problems.append((rel, f"unreadable file ({exc.strerror or exc})"))
        return None

    def _follow(self, visit: Visit, name: str, path: str, out: Outcome) -> os.stat_result | None:
        """The stat of a symlink's target inside the root (a directory is queued), or None."""
        rel = _join(visit.rel, name)
        target = os.path.realpath(path)
        if target != self.root and not target.startswith(self.inside):
            out.problems.append((rel, f"symlink to {target}, outside the directory"))
            return None
        try:
            st = os.stat(target)
        except OSError:
            out.problems.append((rel, f"broken symlink (to {target})"))
            return None
        if stat.S_ISDIR(st.st_mode):
            above = visit.chain or self._ancestors(visit.real)
            if target in above:
                out.problems.append((rel, f"symlink loop (to {target})"))
                return None
            visit.subdirs.append((name, target, (*above, target)))
        return st

    def _ancestors(self, real: str) -> tuple[str, ...]:
        """The directories from the root down to `real`, when no symlink led there."""
        parts = real[len(self.inside) :].split("/") if real != self.root else []
        return (self.root, *(self.inside + "/".join(parts[: i + 1]) for i in range(len(parts))))

    def stored(self, rel: str, record: DirRecord | None) -> FileStats:
        """The per-file rows the cache holds for the directory `rel`."""
        if record is None:
            return {}
        blob = record.entries if record.entries is not None else self.fetch(rel)
        return decode_stats(blob) if blob else {}

    def finish(self, visit: Visit, subs: list[tuple[str, bytes]], out: Outcome) -> bytes:
        """The directory's tree digest, and what the cache must learn about it."""
        key = b""
        if visit.sig is not None:
            key = raw_digest(visit.sig + b"".join([n.encode(*_FS) + b"/" + d for n, d in subs]))
        record = visit.record
        files = visit.files
        if files is None:  # unchanged listing: the record holds the files
            assert record is not None
            row: tuple[object, ...] | None = None
            tree = record.tree
            if record.tree_key != key or self.want_files:
                stored = self.stored(visit.rel, record)
                files = [(n, s[5] or b"", s[2]) for n, s in stored.items()]
            if record.tree_key != key:  # a subdirectory changed: the files did not
                tree = raw_digest(encode_tree(files or [], subs))
                row = (record.sig, record.subdirs, record.files, record.nbytes, key, tree, None)
            count, nbytes = record.files, record.nbytes
        else:
            tree = raw_digest(encode_tree(files, subs))
            count, nbytes = len(files), sum(f[2] for f in files)
            names = tuple(n for n, _, _ in visit.subdirs) if visit.sig is not None else ()
            row = (visit.sig, names, count, nbytes, key, tree)
            if record is None or row != _head(record) or visit.stats != visit.previous:
                row += (encode_stats(visit.stats),)
            else:
                row = None
        out.dirs.append((visit.rel, tree, count, nbytes, row, files if self.want_files else None))
        if row is not None or self.want_files:  # rows and file lists weigh; the rest is small
            out.pending += count
        if out.spill is not None and (out.pending >= SPILL_FILES or len(out.dirs) >= SPILL_DIRS):
            out.spill()
        return tree


def _head(record: DirRecord) -> tuple[object, ...]:
    return (record.sig, record.subdirs, record.files, record.nbytes, record.tree_key, record.tree)


def _lstat(
    lstat: Callable[[str], os.stat_result], path: str, rel: str, out: Outcome
) -> os.stat_result | None:
    """The lstat of `path`; None when it is gone since the listing (it is not there) or
    too long a path to reach (a problem, of `rel`)."""
    try:
        return lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        out.problems.append((_short(rel), TOO_LONG))
        return None


def _short(rel: str) -> str:
    """A path too long to show whole: its start and end."""
    return rel if len(rel) <= 120 else f"{rel[:60]}…{rel[-50:]}"
