"""The one way tests run kite: `kite(ARGS)` waits for it, `start(ARGS)` runs it in the
background (to signal it, or to run another command meanwhile). Each call is its own process
with its own working folder, environment, stdout, stderr and exit status, running
`kitecli.__main__.main` as the installed `kite` does.

By default the process is forked from a server that imported kite and the heavy libraries
once (s3fs, gcsfs, google-cloud-storage, typer: about two seconds of CPU in a fresh
interpreter). `fresh=True` starts a new interpreter (`python -m kitecli`) instead, for what
only a new interpreter shows: start-up, the entry point, a terminal.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

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


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


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

    process: BaseProcess | subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None
        return pid

    def signal(self, number: signal.Signals) -> None:
        os.kill(self.pid, number)

    def stderr(self) -> str:
        """What it has written to stderr so far."""
        return _text(self.err)

    def done(self) -> bool:
        if isinstance(self.process, subprocess.Popen):
            return self.process.poll() is not None
        return self.process.exitcode is not None

    def stop(self) -> None:
        """Kill it if it still runs (a test's clean-up); what it wrote is dropped."""
        if not self.done():
            self.process.kill()
        self._wait(TIMEOUT)
        shutil.rmtree(self.out.parent, ignore_errors=True)

    def result(self, timeout: float = TIMEOUT) -> Result:
        code = self._wait(timeout)
        found = Result(code, _text(self.out), _text(self.err))
        shutil.rmtree(self.out.parent, ignore_errors=True)
        return found

    def _wait(self, timeout: float) -> int:
        if isinstance(self.process, subprocess.Popen):
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        else:
            self.process.join(timeout)
            if self.process.exitcode is not None:
                return self.process.exitcode
            self.process.kill()
            self.process.join()
        raise TimeoutError(f"kite did not finish in {timeout} s: {self.stderr()}")


def _text(path: Path) -> str:
    """What the process wrote there (nothing if it died before opening it)."""
    # kite writes file names as their bytes, as ls does; those not UTF-8 become surrogates
    return path.read_text(errors="surrogateescape") if path.exists() else ""


def start(*args: str, cwd: Path, env: dict[str, str] | None = None, fresh: bool = False) -> Running:
    """Start `kite ARGS` in `cwd` with the test's environment plus `env`."""
    environ = {**os.environ, "NO_COLOR": "1", **(env or {})}
    folder = Path(tempfile.mkdtemp(prefix="kite-out-"))
    out, err = folder / "stdout", folder / "stderr"
    if fresh:
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [sys.executable, "-m", "kitecli", *args],
                cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        return Running(popen, out, err)
    process = context().Process(
        target=_main, args=(list(args), str(cwd), environ, str(out), str(err))
    )
    process.start()
    return Running(process, out, err)


def kite(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    fresh: bool = False,
    timeout: float = TIMEOUT,
) -> Result:
    """Run `kite ARGS` in `cwd` and wait for it."""
    return start(*args, cwd=cwd, env=env, fresh=fresh).result(timeout)


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
