"""Which executor runs each stage of an apply, where its datums' folders are, where it starts.

Local stages work in `.kite/work/` on this machine, in one folder per datum
(`<stage>/<key hash>`), the same in every run and every environment, so that a command sees
the same paths each time; made empty before each attempt and, once the attempt has been
settled, emptied and kept as a spare that the stage's next datum renames to its own
folder (run/spares.py). A datum claims its folder first (run/claims.py), so two applies never share
one, and no datum sees a view another left behind. Kubernetes stages work on
the environment's volume, `<mount>/.kite/tmp/<env>/<stage>/<fingerprint>-<attempt>` (a batch:
`<pod hash>-<attempt>/<index>`): named like the pod, not the run, so that an apply re-run
after a crash finds the folders of each pod it adopts, and a fresh pod never shares one
with a pod a killed apply left running. A pod sees its datum's folder mounted at the fixed
path `/kite/datum` (`podspec.DATUM_FOLDER`), so its commands too see the same paths in every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kitecli.env import guard
from kitecli.errors import KiteError, ProjectError
from kitecli.executors.base import Adopting, BatchExecutor, Executor, Handle, Preflight, Task
from kitecli.executors.podspec import DATUM_FOLDER, Mount, no_image
from kitecli.history.state import key_id
from kitecli.run import views
from kitecli.run.claims import Held
from kitecli.run.spares import Spares
from kitecli.run.views import Workspace
from kitecli.scan.hashing import utf8
from kitecli.scan.manifest import FileEntry
from kitecli.spec.build import is_url
from kitecli.spec.model import Environment, Pipeline, Stage
from kitecli.spec.resources import for_attempt
from kitecli.store import links

Files = Mapping[str, Mapping[str, FileEntry]]  # keyed input name → the datum's files


@dataclass(frozen=True)
class ClusterOptions:
    """How `kite apply` reaches the cluster (from the command line)."""

    kubeconfig: str | None = None  # default: $KUBECONFIG, else ~/.kube/config, else in-cluster
    context: str | None = None
    keep_pods: bool = False


@dataclass(frozen=True)
class Work:
    """One attempt of one datum, as a lane turns it into a task."""

    stage: Stage
    key: Mapping[str, str]
    fingerprint: str
    attempt: int
    files: Files = dataclasses.field(default_factory=dict)  # the datum's files, keyed inputs


@dataclass(frozen=True)
class Lane:
    """How the datums of one stage run: executor, working folders, start folder, identity."""

    executor: Executor
    scratch: Path  # the datums' working folders are under it
    workdir: str  # where commands start ("": the image's own working directory)
    identity: str | None = None  # the service account its pods run as
    adoptable: bool = False  # units outlive kite: folders per fingerprint and attempt
    seen: Path | None = None  # where the command sees its datum's folder (None: where it is)
    claims: Held | None = None  # the apply's claims on folders named alike in every run
    spares: Spares | None = None  # emptied folders of settled datums, for the next ones
    say: Callable[[str], None] = print  # how a wait for a claimed folder is told

    def release(self, folder: Path) -> None:
        """Give up the claim on a datum's folder, once its attempt has been settled."""
        if self.claims is not None:
            self.claims.release([folder])

    def clear(self, workspace: Workspace, stage: Stage) -> None:
        """Empty a settled datum's folder: kept as a spare for the next datum of the stage
        (run/spares.py), else removed."""
        if self.spares is None or not self.spares.give(workspace.folder, views.skeleton(stage)):
            links.clear(workspace.folder)

    @property
    def batches(self) -> bool:
        """True when the executor can run several datums in one unit (`batch: N`)."""
        return isinstance(self.executor, BatchExecutor)

    def submit(self, tasks: Sequence[Task]) -> list[Handle]:
        """Start one unit: a datum attempt, or the datums of a batch, to run in order."""
        if len(tasks) == 1:
            return [self.executor.submit(tasks[0])]
        if not isinstance(self.executor, BatchExecutor):
            raise TypeError(f"executor {self.executor.name} cannot run a batch of datums")
        return list(self.executor.submit_batch(tasks))

    def folders(self, work: Sequence[Work]) -> list[Path]:
        """The working folders of the datums of one unit (one datum, or a batch's)."""
        first = work[0]
        if not self.adoptable:  # one folder per datum: a datum runs one attempt at a time
            return [self.scratch / first.stage.name.replace("/", "_") / slug(w.key) for w in work]
        base = self.scratch / first.stage.name.replace("/", "_")
        if len(work) == 1:
            return [base / f"{first.fingerprint.removeprefix('b3:')[:24]}-{first.attempt}"]
        # a batch: named after the whole pod, so a pod of other datums never shares one
        unit = "\0".join(f"{w.fingerprint}#{w.attempt}" for w in work)
        name = hashlib.blake2b(utf8(unit), digest_size=12).hexdigest()
        return [base / f"{name}-{first.attempt}" / str(i) for i in range(len(work))]

    def tasks(
        self, pipeline: Pipeline, env: Environment, run_id: str, work: Sequence[Work]
    ) -> list[tuple[Task, Workspace]]:
        """The tasks of one unit, and where their folders will be (not made yet)."""
        return [
            self._task(pipeline, env, run_id, w, views.layout(folder, w.stage))
            for w, folder in zip(work, self.folders(work), strict=True)
        ]

    def _task(
        self, pipeline: Pipeline, env: Environment, run_id: str, work: Work, workspace: Workspace
    ) -> tuple[Task, Workspace]:
        stage, key = work.stage, work.key
        seen = workspace if self.seen is None else views.layout(self.seen, stage)
        names = views.values(
            pipeline=pipeline,
            stage=stage,
            env=env.name,
            run_id=run_id,
            key=key,
            workspace=seen,
            files=work.files,
        )
        task = Task(
            run_id=run_id,
            pipeline=pipeline.name,
            env=env,
            stage=stage,
            key=key,
            fingerprint=work.fingerprint,
            attempt=work.attempt,
            argv=views.argv(stage, names, views.listed(seen, work.files)),
            environ=views.environ(stage, names, tmp=seen.tmp),
            workdir=self.workdir,
            folder=str(workspace.folder) if self.seen is not None else "",
            inputs={k: str(v) for k, v in workspace.inputs.items()},
            outputs={k: str(v) for k, v in workspace.outputs.items()},
            asks=for_attempt(stage.resources, work.attempt),
        )
        return task, workspace

    def prepare(
        self,
        tasks: Sequence[Task],
        spaces: Sequence[tuple[Workspace, Files]],
        *,
        data_root: views.Source,
        read_from: Mapping[str, Path] | None = None,
    ) -> list[Task]:
        """Make the datums' views and scratch outputs; returns the tasks to submit.

        When the folders exist and so does the unit that runs exactly these tasks, an apply
        was killed while it ran: the folders stay as they are and the unit is adopted.
        Otherwise they are made afresh, and a unit of the same name (a kept pod of earlier
        work) is replaced rather than adopted. Local folders, named alike in every run, are
        claimed first (`release` gives each up when its attempt has been settled).
        """
        leftover = self.adoptable and any(w.folder.exists() for w, _ in spaces)
        if leftover and isinstance(self.executor, Adopting) and self.executor.exists(tasks):
            return [dataclasses.replace(t, adopt=True) for t in tasks]
        if self.claims is not None:
            with self.claims.holding([w.folder for w, _ in spaces], say=self.say):
                self._make(tasks, spaces, data_root, read_from)
            return list(tasks)
        self._make(tasks, spaces, data_root, read_from)
        return (
            list(tasks)
            if not self.adoptable
            else [dataclasses.replace(t, adopt=False) for t in tasks]
        )

    def _make(
        self,
        tasks: Sequence[Task],
        spaces: Sequence[tuple[Workspace, Files]],
        data_root: views.Source,
        read_from: Mapping[str, Path] | None,
    ) -> None:
        """Make the views and scratch outputs of each task."""
        for task, (workspace, files) in zip(tasks, spaces, strict=True):
            views.prepare(
                workspace.folder,
                stage=task.stage,
                data_root=data_root,
                files=files,
                read_from=read_from,
                seen=self.seen,
                spare=self.spares.take if self.spares is not None else None,
            )


class Lanes:
    """The lanes of one apply: one executor per kind, made up front, closed at the end."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        env: Environment,
        stages: Iterable[Stage],
        scratch: Path,
        cluster: ClusterOptions = ClusterOptions(),
    ) -> None:
        self.pipeline, self.env, self.scratch, self.cluster = pipeline, env, scratch, cluster
        self._executors: dict[str, Executor] = {}
        self._kinds: set[str] = set()
        self._lock = threading.Lock()
        self.claims = Held()  # the local datums' folders, claimed while their attempts run
        self.spares = Spares()  # and emptied for the next datum once settled
        self.say: Callable[[str], None] = lambda _: None  # set by the runner's progress
        try:  # configuration errors (exit 3), then missing rights (exit 4), before anything runs
            self._preflight([self(stage) for stage in stages])
        except BaseException:
            self.close()
            raise

    def _preflight(self, made: Sequence[Lane]) -> None:
        """Ask each executor that can whether the stages can run on it (rights, identities),
        before anything runs (exit 4 naming what is missing)."""
        with self._lock:
            executors = list(self._executors.values())
        for executor in executors:
            if isinstance(executor, Preflight):
                ids = [m.identity for m in made if m.executor is executor and m.identity]
                executor.preflight(ids, env=self.env.name)

    def kind(self, stage: Stage) -> str:
        return self.pipeline.executor_for(stage, self.env)

    def __call__(self, stage: Stage) -> Lane:
        kind = self.kind(stage)
        if kind == "kubernetes":
            check_stage(self.env, stage)  # before connecting to the cluster
        executor = self._executor(kind)
        found = lane(self.pipeline, self.env, stage, executor, scratch=self.scratch)
        if found.adoptable:
            return found
        return dataclasses.replace(found, claims=self.claims, spares=self.spares, say=self.say)

    def writes(self, found: guard.Guard, stages: Iterable[str]) -> guard.Guard:
        """`found`, allowed to write the pods' working folders too when one of `stages` runs
        in pods. Those folders are on the environment's volume, which need not be one of its
        roots; they must not be inside another environment's data root all the same.
        """
        if all(self.kind(self.pipeline.stages[s]) != "kubernetes" for s in stages):
            return found
        folder = os.path.realpath(cluster_scratch(self.env))
        wider = dataclasses.replace(found, roots=(*found.roots, ("pods' working folders", folder)))
        wider.check(folder, doing="write pods' working folders into", follow=True)
        return wider

    def folders(self) -> list[Path]:
        """The pods' working folders on the volume if a stage ran in pods: to clear when the
        apply ends (the local datums' folders are swept instead: claims.sweep)."""
        with self._lock:
            pods = "kubernetes" in self._kinds
        return [cluster_scratch(self.env)] if pods else []

    def close(self) -> None:
        """Close the executors; give up any claim left (an attempt ended in an error)."""
        self.claims.release_all()
        self.spares.release_all()
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.close()

    def _executor(self, kind: str) -> Executor:
        with self._lock:
            if kind not in self._executors:
                self._executors[kind] = self._make(kind)
                self._kinds.add(kind)
            return self._executors[kind]

    def _make(self, kind: str) -> Executor:
        if kind == "local":
            from kitecli.executors.live import LIVE
            from kitecli.executors.local import LocalExecutor

            return LocalExecutor(live=self.pipeline.root / LIVE)
        from kitecli.executors.live import LIVE

        return kubernetes_executor(
            self.pipeline,
            self.env,
            self.cluster,
            say=lambda m: self.say(m),
            live=self.pipeline.root / LIVE,
        )


def lane(
    pipeline: Pipeline,
    env: Environment,
    stage: Stage,
    executor: Executor,
    *,
    scratch: Path,
    purpose: str = "tmp",
) -> Lane:
    """The lane of `stage`: local ones work in `scratch`, pods on the volume.

    Pods start in the project folder when it is on the volume (so relative paths in
    commands work as they do locally), else in their image's working directory.
    """
    if pipeline.executor_for(stage, env) != "kubernetes":
        return Lane(executor, scratch, str(pipeline.root))
    from kitecli.executors.podspec import service_account

    mount = Path(env.volume.mount) if env.volume else Path("/")
    root = pipeline.root
    return Lane(
        executor,
        cluster_scratch(env, purpose),
        str(root) if root == mount or mount in root.parents else "",
        identity=service_account(env.name, pipeline.name, stage),
        adoptable=True,
        seen=Path(DATUM_FOLDER),
    )


def cluster_scratch(env: Environment, purpose: str = "tmp") -> Path:
    """Where the working folders of an environment's pods live: on its volume."""
    assert env.volume is not None
    return Path(env.volume.mount) / ".kite" / purpose / env.name


def check_stage(env: Environment, stage: Stage) -> None:
    """A pod needs an image, and sees the data root only on a volume kite sees there too."""
    if not stage.image:
        raise no_image(stage.name)
    if is_url(env.data):
        raise ProjectError(
            f"stage {stage.name!r} runs on Kubernetes, but the data root of environment "
            f"{env.name!r} is on an object store ({env.data}): not supported yet",
            hint="run the stage locally (`executor: local`), or give the environment a data "
            "root on a volume (docs/kubernetes.md)",
        )
    if env.volume is None:
        raise ProjectError(
            f"stage {stage.name!r} runs on Kubernetes, but the data root of environment "
            f"{env.name!r} ({env.data}) is on no volume the pods can mount",
            hint="add `volume: {claim: NAME, mount: PATH}` to the environment, with `data` "
            "inside the mount (docs/kubernetes.md)",
        )
    if not Path(env.volume.mount).is_dir():
        raise ProjectError(
            f"kite does not see the volume of environment {env.name!r} at "
            f"{env.volume.mount}, where its pods mount it",
            hint="run kite where the claim is mounted at that same path (a pod or CronJob "
            "with the claim, or a host folder the nodes share)",
        )


def kubernetes_executor(
    pipeline: Pipeline,
    env: Environment,
    cluster: ClusterOptions,
    *,
    say: Callable[[str], None] | None = None,
    live: Path | None = None,
) -> Executor:
    """A KubernetesExecutor for the environment's namespace, other roots read-only; its
    running attempts named under `live` (for `kite logs -f`) when given."""
    try:
        from kitecli.executors.kubernetes import KubernetesExecutor
        from kitecli.executors.pods import KubernetesOptions
    except ImportError as exc:  # the kubernetes client is an extra
        raise KiteError(
            f"the Kubernetes client is not installed ({exc})",
            hint="pip install 'kite[k8s]'",
        ) from exc
    options = KubernetesOptions(
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
        namespace=env.namespace,
        keep_pods=cluster.keep_pods,
        read_only=read_only_roots(pipeline, env),
        live=live,
    )
    executor: Executor = KubernetesExecutor(options, say=say)
    return executor


def read_only_roots(pipeline: Pipeline, env: Environment) -> tuple[Mount, ...]:
    """The data root of the environment `env` reads (`reads:`), mounted read-only in pods."""
    from kitecli.executors.podspec import read_only_root

    other = pipeline.environments.get(env.reads) if env.reads else None
    mount = read_only_root(other) if other is not None else None
    return (mount,) if mount else ()


def slug(key: Mapping[str, str]) -> str:
    """A short folder name for a datum key."""
    return hashlib.blake2b(utf8(key_id(key)), digest_size=8).hexdigest()
