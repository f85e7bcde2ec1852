"""The one error tree and the one exit-code table of kite."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What kite's exit status means (the table is in docs/architecture.md); nothing else
    picks a code."""

    OK = 0
    FAILED = 1  # a task failed or an output was rejected
    CHANGES = 2  # plan --detailed-exitcode: changes pending
    INVALID = 3  # invalid pipeline, lock, plan or project; nothing ran
    UNREACHABLE = 4  # infrastructure unreachable or refused
    BUSY = 5  # another apply holds the environment's lease (--if-busy fail)
    PAUSED = 6  # a breakpoint paused the run; what ran before it is committed
    USAGE = 64  # usage error
    INTERRUPTED = 130  # in-flight attempts cancelled, finished work committed
    READER_GONE = 141  # stdout's reader went away (`kite plan | head`), as after SIGPIPE


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a user's file, with its position (1-based)."""

    file: str
    line: int
    col: int
    message: str
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class KiteError(Exception):
    """An error the user can act on: shown as `error:` and `hint:`, never a traceback."""

    exit_code: ExitCode = ExitCode.INVALID

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(KiteError):
    """The command line itself is wrong."""

    exit_code = ExitCode.USAGE


class PipelineError(KiteError):
    """pipeline.yaml is invalid; carries every diagnostic found, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        count = len(diagnostics)
        noun = "error" if count == 1 else "errors"
        super().__init__(f"{count} {noun} in {diagnostics[0].file}" if diagnostics else "invalid")
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.col))


class ProjectError(KiteError):
    """The project's state (lock, plan file, metadata repo) is invalid or stale."""


class Damaged(ProjectError):
    """Stored state is damaged: an object or blob is missing, or its bytes are not what its
    digest says. Not invalid input: `kite fsck` lists what else is hurt."""


class StalePlanError(ProjectError):
    """A saved plan or a compare-and-swap lost against a newer state: re-plan."""


class WriteRefused(KiteError):
    """A write would land outside the environment's own roots."""


class StoreError(KiteError):
    """A store (object store, metadata repo, cluster) is unreachable or refused."""

    exit_code = ExitCode.UNREACHABLE


class LeaseBusy(KiteError):
    """Another apply holds the environment's lease."""

    exit_code = ExitCode.BUSY


class Interrupted(KiteError):
    """The run was interrupted; finished work was committed."""

    exit_code = ExitCode.INTERRUPTED
