"""What the executor contract suite runs on: an executor plus the means to build its tasks.

A rig knows where a task's files live for the executor (a path in the pod, or a local
path) and where the test can read them (None when only the cluster can).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitecli.executors.base import Executor, Task
from kitecli.scan.hashing import digest_bytes
from kitecli.spec.model import Environment, Stage, Volume

IMAGE = os.environ.get("KITE_TEST_IMAGE", "busybox:1.36")


@dataclass
class Rig:
    executor: Executor
    env: Environment
    workdir: str  # where commands start
    scratch: str  # a directory tasks may write to, as the task sees it
    local_scratch: Path | None  # the same directory on this machine (None: cluster only)
    run_id: str = field(default_factory=lambda: "contract-" + uuid.uuid4().hex[:8])
    # fault injection (fake cluster only): (pod-name prefix, "OOMKilled" | "Evicted")
    doom: Callable[[str, str], None] | None = None
    pod_name: Callable[[Sequence[Task]], str] | None = None

    def task(
        self,
        argv: Sequence[str],
        *,
        environ: Mapping[str, str] | None = None,
        timeout: float | None = None,
        key: Mapping[str, str] | None = None,
        attempt: int = 1,
        fingerprint: str | None = None,
        **stage: Any,
    ) -> Task:
        name = stage.pop("name", "step")
        stage.setdefault("image", IMAGE)
        the_stage = Stage(name=name, base=name, command=tuple(argv), timeout=timeout, **stage)
        return Task(
            run_id=self.run_id,
            pipeline="contract",
            env=self.env,
            stage=the_stage,
            key=dict(key or {"day": "2024-01-01"}),
            fingerprint=fingerprint or digest_bytes(uuid.uuid4().bytes),
            attempt=attempt,
            argv=tuple(argv),
            environ={"KITE_ENV": self.env.name, "KITE_RUN_ID": self.run_id, **(environ or {})},
            workdir=self.workdir,
        )


def volume_environment(name: str, mount: str, *, claim: str, namespace: str) -> Environment:
    return Environment(
        name=name,
        data=f"{mount}/{name}",
        metadata=f"{mount}/meta",
        cache=f"{mount}/cache",
        executor="kubernetes",
        namespace=namespace,
        volume=Volume(claim, mount),
    )


def local_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
