"""Run kite's command line in processes forked from a server that imported it and the heavy
libraries once (s3fs, gcsfs, google-cloud-storage, typer: about two seconds of CPU in a fresh
interpreter). Each call is still its own process, with its own working folder, environment,
stdout, stderr and exit status, running `kitecli.__main__.main` as `kite` does.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from tests.helpers import Result

# gcsfs reads this when it is imported, and the server imports it: an experimental probe
# that hangs for a minute against emulators
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
PRELOAD = [
    "typer",
    "ruamel.yaml",
    "jsonschema",
    "blake3",
    "cel",
    "s3fs",
    "gcsfs",
    "google.cloud.storage",
    "kitecli.cli.main",
    "kitecli.store.s3",
    "kitecli.store.gcs",
    "race_worker",
]
TIMEOUT = 120.0


def context() -> ForkServerContext:
    """The forkserver context, preloading what every kite process would import."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _main(args: list[str], cwd: str, environ: dict[str, str], out: str, err: str) -> None:
    """The body of one forked `kite ARGS` (its exit status is kite's)."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    sys.argv = ["kite", *args]
    from kitecli.__main__ import main

    main()


@dataclass
class Running:
    """A `kite` process started by `start`; `result()` waits for it."""

    process: BaseProcess
    out: Path
    err: Path

    def result(self, timeout: float = TIMEOUT) -> Result:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise TimeoutError(f"kite did not finish in {timeout} s: {self.err.read_text()}")
        found = Result(self.process.exitcode, _text(self.out), _text(self.err))
        shutil.rmtree(self.out.parent, ignore_errors=True)
        return found


def _text(path: Path) -> str:
    """What the process wrote there (nothing if it died before opening it)."""
    return path.read_text() if path.exists() else ""


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Running:
    """Start `kite ARGS` in `cwd` with the test's environment plus `env`."""
    environ = {**os.environ, "NO_COLOR": "1", **(env or {})}
    folder = Path(tempfile.mkdtemp(prefix="kite-out-"))
    out, err = folder / "stdout", folder / "stderr"
    process = context().Process(
        target=_main, args=(list(args), str(cwd), environ, str(out), str(err))
    )
    process.start()
    return Running(process, out, err)


def kite(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run `kite ARGS` in `cwd` and wait for it (like tests.helpers.kite, faster)."""
    return start(*args, cwd=cwd, env=env).result()
