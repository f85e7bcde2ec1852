"""`kite apply --keep-failed`: a failed attempt's working folder kept for a post-mortem, under
`.kite/kept/RUN/STAGE/DATUM/attempt-N/`, with the exact command and environment it ran
with, as `command.sh` and `env`, rewritten to run in the kept folder (docs/debugging.md)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import overload

from kitecli.executors.base import Task
from kitecli.executors.live import folder_name as name
from kitecli.history.state import key_id
from kitecli.run.views import Workspace

KEPT = Path(".kite") / "kept"


@overload
def kept_folder(project: Path, run_id: str) -> Path: ...
@overload
def kept_folder(project: Path, run_id: str, *, keep: bool) -> Path | None: ...
def kept_folder(project: Path, run_id: str, *, keep: bool = True) -> Path | None:
    """Where the failed attempts of run `run_id` are kept (None: `keep` is false)."""
    return project / KEPT / run_id if keep else None


class Keeper:
    """Copies the working folder of each attempt before kite settles it, and keeps the
    copy only when the attempt failed. With no `folder`, keeps nothing."""

    def __init__(
        self, folder: Path | None, project: Path, *, say: Callable[[str], None] = print
    ) -> None:
        self.folder = folder
        self.project = project
        self.say = say

    def keep(self, task: Task, workspace: Workspace) -> Path | None:
        """A copy of the attempt's folder as its command left it (None: nothing kept)."""
        if self.folder is None or not workspace.folder.is_dir():
            return None
        stage = name(task.stage.name)
        dest = self.folder / stage / name(key_id(task.key)) / f"attempt-{task.attempt}"
        try:
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            # views are links to the data files: kept as links; scratch outputs are copied
            shutil.copytree(workspace.folder, dest / "folder", symlinks=True)
            _write_command(dest, task, workspace.folder)
        except (OSError, shutil.Error) as exc:  # a full disk: not kept, the run goes on
            shutil.rmtree(dest, ignore_errors=True)
            self.say(f"kite: could not keep {os.path.relpath(dest, self.project)}: {exc}")
            return None
        return dest

    def drop(self, kept: Path | None) -> None:
        """The attempt succeeded: its copy goes."""
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
            for parent in (kept.parent, kept.parent.parent, kept.parent.parent.parent):
                with contextlib.suppress(OSError):  # not empty: another attempt was kept
                    parent.rmdir()

    def shown(self, kept: Path | None) -> str | None:
        """How the run record names a kept folder: relative to the project."""
        if kept is None:
            return None
        return os.path.relpath(kept, self.project)


def _write_command(dest: Path, task: Task, folder: Path) -> None:
    """`env` (the variables the command got from kite) and `command.sh` (which runs it
    again), with every path into the working folder pointed at the kept copy."""
    old, new = str(folder), str((dest / "folder").resolve())

    def moved(text: str) -> str:
        return text.replace(old, new)

    variables = "".join(
        f"export {k}={shlex.quote(moved(v))}\n" for k, v in sorted(task.environ.items())
    )
    (dest / "env").write_text(variables)
    script = (
        "#!/bin/sh\n"
        f"# attempt {task.attempt} of stage {task.stage.name}, datum "
        f"{key_id(task.key) or '(whole)'}, run {task.run_id}, as kite ran it\n"
        "# (its folder, as the command left it, is ./folder; its outputs go there again)\n"
        '. "$(dirname "$0")/env"\n'
        f"cd {shlex.quote(moved(task.workdir))}\n"
        f"exec {shlex.join(moved(a) for a in task.argv)}\n"
    )
    (dest / "command.sh").write_text(script)
    (dest / "command.sh").chmod(0o755)
