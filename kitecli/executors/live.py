"""Where a local attempt's output is while it runs, for `kite logs -f`:
`.kite/live/RUN/STAGE/DATUM/attempt-N/` holds the capture's segments (capture.py) and an
`about.json` naming the attempt; the folder goes when the attempt ends. `Tail` reads it as
it grows, across the capture's turns of segments. An attempt that runs in a pod has only
its `about.json` there, naming the pod and how to reach its cluster (podfollow.py reads
its log through the API server)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kitecli.executors.base import Task

LIVE = Path(".kite") / "live"
ABOUT = "about.json"
NEWEST = "1"  # the segment the capture writes into (the older one is "0")


def key_id(key: Mapping[str, str]) -> str:
    """A datum key as one string, as the history writes it: `date=2024-01-01,station=A`."""
    return ",".join(f"{k}={key[k]}" for k in sorted(key))


def folder_name(text: str) -> str:
    """A stage name or datum key as a folder name a person can read: `day=2024-01-02`."""
    return re.sub(r"[^A-Za-z0-9=,.+_-]", "_", text)[:100] or "whole"


def attempt_folder(root: Path, task: Task) -> Path:
    """Where the capture of `task` writes while it runs, under the live folder `root`."""
    stage, datum = folder_name(task.stage.name), folder_name(key_id(task.key))
    return root / task.run_id / stage / datum / f"attempt-{task.attempt}"


@dataclass(frozen=True)
class PodRef:
    """Where a pod attempt's output is: its pod's container, and how to reach its cluster."""

    namespace: str
    name: str
    container: str
    kubeconfig: str | None = None  # None: the default ($KUBECONFIG, else ~/.kube/config)
    context: str | None = None
    in_cluster: bool | None = None


def describe(folder: Path, task: Task, pod: PodRef | None = None) -> None:
    """Name the attempt whose output `folder` holds (or whose pod runs it), for whoever
    follows it; written whole or not at all (a reader never sees half of it)."""
    about: dict[str, object] = {
        "stage": task.stage.name,
        "key": dict(task.key),
        "attempt": task.attempt,
    }
    if pod is not None:
        about["pod"] = dataclasses.asdict(pod)
    partial = folder / f".{ABOUT}.{os.getpid()}"
    partial.write_text(json.dumps(about))
    os.replace(partial, folder / ABOUT)


def publish(root: Path, task: Task, pod: PodRef) -> None:
    """Say that `task` runs in `pod`, under the live folder `root`; a folder that cannot be
    written costs the followers the attempt's live output, not the attempt."""
    folder = attempt_folder(root, task)
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        describe(folder, task, pod)


def withdraw(root: Path, task: Task) -> None:
    """`task` runs no more: its folder goes, with its parents that are left empty."""
    folder = attempt_folder(root, task)
    shutil.rmtree(folder, ignore_errors=True)
    remove_empty_parents(folder, 4)


def remove_empty_parents(folder: Path, levels: int) -> None:
    """Remove `folder`'s parents up to `levels` up, each one if it is empty."""
    for parent in list(folder.parents)[:levels]:
        with contextlib.suppress(OSError):  # not empty: another attempt is there
            parent.rmdir()


def remove_empty(folder: Path, *, levels: int) -> None:
    """Remove `folder` if it holds only empty folders (its stages'), and its empty parents
    up to `levels` up."""
    with contextlib.suppress(OSError):
        for stage in folder.iterdir():
            with contextlib.suppress(OSError):
                stage.rmdir()
        folder.rmdir()
        remove_empty_parents(folder, levels)


@dataclass(frozen=True)
class Running:
    """One attempt that writes into the live folder now."""

    folder: Path
    stage: str
    key: Mapping[str, str]
    attempt: int
    pod: PodRef | None = None  # the attempt runs in this pod

    @property
    def ident(self) -> tuple[str, str, int]:
        return (self.stage, key_id(self.key), self.attempt)


def running(root: Path, run_id: str) -> list[Running]:
    """The attempts of run `run_id` that are running now, by folder name."""
    found = []
    for about in sorted((root / run_id).glob(f"*/*/attempt-*/{ABOUT}")):
        try:
            data = json.loads(about.read_text())
            pod = PodRef(**data["pod"]) if data.get("pod") else None
        except (OSError, ValueError, TypeError):  # just ended: seen no more
            continue
        found.append(Running(about.parent, data["stage"], data["key"], int(data["attempt"]), pod))
    return found


class Tail:
    """Reads what an attempt writes, as it writes it; `ended` once its folder is gone."""

    complete = True  # the capture keeps what it was given

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ended = False
        self._fd: int | None = None

    def read(self) -> bytes:
        """What was written since the last read."""
        chunks = []
        while True:
            if self._fd is None and not self._open():
                break
            assert self._fd is not None
            while chunk := os.read(self._fd, 1 << 16):
                chunks.append(chunk)
            if self._turned():  # the capture began a new segment: read that one too
                os.close(self._fd)
                self._fd = None
                continue
            break
        return b"".join(chunks)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> bool:
        try:
            self._fd = os.open(self.folder / NEWEST, os.O_RDONLY)
        except FileNotFoundError:
            self.ended = not self.folder.exists()
            return False
        return True

    def _turned(self) -> bool:
        """True when the newest segment is no longer the file being read."""
        assert self._fd is not None
        try:
            now = os.stat(self.folder / NEWEST)
        except FileNotFoundError:
            self.ended = not self.folder.exists()
            return False
        mine = os.fstat(self._fd)
        return (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)
