"""Frozen, typed model of a pipeline: what spec.py builds and every other module reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitecli.errors import Diagnostic

Scalar = str | int | float | bool

EXECUTORS = ("local", "kubernetes")
DERIVED_TIME_FIELDS = ("year", "month", "day")


@dataclass(frozen=True)
class Retries:
    """How often a failed attempt is retried, waiting backoff * factor**n seconds."""

    limit: int = 0
    backoff: float = 0.0
    factor: float = 2.0
    on: str | None = None  # CEL on the failed attempt: retried only when it holds

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (1 is the first retry)."""
        return self.backoff * self.factor ** max(attempt - 1, 0)


@dataclass(frozen=True)
class Trigger:
    """When a stage with new work runs: once `min_new` datums are new or stale, or once
    the oldest of them has waited `max_wait` seconds (None: no deadline)."""

    min_new: int = 1
    max_wait: float | None = None


@dataclass(frozen=True)
class Repeat:
    """Bounded iteration (docs/repeat.md): iteration k reads iteration k-1's output, until
    the CEL `until` holds on its output or `max` iterations ran; then the datum is `failed`
    or its last output `accepted`, as `then` says."""

    until: str
    max: int
    then: str = "failed"  # failed | accepted
    at: str = field(default="", compare=False)  # where pipeline.yaml names it: FILE:LINE:COL


@dataclass(frozen=True)
class Accept:
    """Acceptance checks on one datum's output, run before it is merged."""

    min_files: int | None = None
    max_files: int | None = None
    max_bytes: int | None = None
    json_schema: str | None = None
    rules: tuple[str, ...] = ()
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ready:
    """When an input is complete enough to process: its marker file exists (a path inside
    the input's folder that may use the datum's `{fields}`) and its `when` CEL holds (it
    sees `files`, `bytes` and `names` of the datum's files of that input, and `datum`)."""

    marker: str | None = None
    when: str | None = None


@dataclass(frozen=True)
class Input:
    """A directory a stage reads; keyed by `each` (one datum per key) or whole."""

    name: str
    path: str  # relative to the data root, posix, no trailing slash
    each: str | None = None
    by: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()  # gitignore-style globs, relative to the input directory
    optional: bool = False  # a missing directory means no datums (else an error)
    ready: Ready | None = None  # not in the fingerprint: it says when, not what
    at: str = field(default="", compare=False)  # where pipeline.yaml names it: FILE:LINE:COL

    @property
    def keyed(self) -> bool:
        return self.each is not None

    @property
    def per_file(self) -> bool:
        """True when each datum holds exactly one of its files: a pattern of fields and
        literals only (no `*`), every field in the key (no `by:`)."""
        return self.each is not None and "*" not in self.each and not self.by


@dataclass(frozen=True)
class Output:
    """A directory a stage writes; each datum owns the files it wrote there."""

    name: str
    path: str
    accept: Accept | None = None
    optional: bool = False  # a datum may leave it empty (else an empty output fails)

    @property
    def may_be_empty(self) -> bool:
        """`optional: true`, or `accept: {min_files: 0}`."""
        return self.optional or (self.accept is not None and self.accept.min_files == 0)


@dataclass(frozen=True)
class DateRange:
    """Datum keys from `start` to `end` inclusive; `end` None means today (or now)."""

    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None
    every: dt.timedelta


@dataclass(frozen=True)
class ValueList:
    """Datum keys from an explicit list."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class CelList:
    """Datum keys from a CEL expression evaluating to a list (sees `params`, `env`)."""

    expr: str


Generator = DateRange | ValueList | CelList


@dataclass(frozen=True)
class Resources:
    """What a task asks of the cluster; the local executor ignores all but nothing."""

    cpu: str | None = None
    memory: str | None = None
    gpu: int | None = None
    ephemeral_storage: str | None = None
    cpu_limit: str | None = None  # optional: by default cpu is a request only
    # what each retry asks instead: a quantity, or "xN" times the previous attempt's
    on_retry: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretRef:
    """An environment variable's value from a key of a Kubernetes Secret."""

    secret: str
    key: str
    optional: bool = False


@dataclass(frozen=True)
class PodKnobs:
    """How a stage's (or an environment's) pods are dressed on a real cluster; not in the
    fingerprint. An environment's apply to all its pods, a stage's are added on top."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    pull_secrets: tuple[str, ...] = ()
    priority_class: str | None = None
    affinity: Mapping[str, Any] = field(default_factory=dict)
    secret_env: Mapping[str, SecretRef] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One step. Matrix variants are separate stages named `base[k=v,...]`."""

    name: str
    base: str
    command: tuple[str, ...]
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    datums: Mapping[str, Generator] = field(default_factory=dict)
    # What the stage produces depends on these (they are in its fingerprint):
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    code: tuple[str, ...] = ()
    version: str | None = None
    params: tuple[str, ...] = ()  # names of the params it reads, sorted
    matrix: Mapping[str, Scalar] = field(default_factory=dict)
    when: str | None = None
    repeat: Repeat | None = None  # in its fingerprint: it decides which output is kept
    # How it runs (not in its fingerprint):
    executor: str | None = None
    resources: Resources = Resources()
    concurrency: int | None = None
    batch: int = 1
    retries: Retries = Retries()
    timeout: float | None = None
    start_timeout: float | None = None  # a pod's time to start (None: the executor's default)
    trigger: Trigger | None = None
    identity: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    automount_service_account_token: bool = False
    description: str | None = None
    pod: PodKnobs = PodKnobs()

    @property
    def is_source(self) -> bool:
        """A source stage has no inputs; its datums come from `datums:` generators."""
        return not self.inputs

    def input(self, name: str) -> Input:
        return next(i for i in self.inputs if i.name == name)

    def output(self, name: str) -> Output:
        return next(o for o in self.outputs if o.name == name)


@dataclass(frozen=True)
class Volume:
    """A PersistentVolumeClaim holding the data root, mounted at `mount` in every pod."""

    claim: str
    mount: str


@dataclass(frozen=True)
class Schedule:
    """When and what the cluster runs on its own (a CronJob `kite install` makes)."""

    cron: str
    image: str  # holds kite and the pipeline
    timezone: str = "UTC"
    if_busy: str = "skip"  # skip | wait | fail, as `kite apply --if-busy`
    stages: tuple[str, ...] = ()
    downstream: bool = False
    params: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None  # where the pipeline is in the runner's pod (else the image's)
    at: str = field(default="", compare=False)  # FILE:LINE:COL of `cron:`


@dataclass(frozen=True)
class Environment:
    """A named deployment: its own data root, metadata ref, identity and executor."""

    name: str
    data: str  # local path (absolute) or s3:// / gs:// URL
    metadata: str
    cache: str
    executor: str | None = None
    namespace: str | None = None
    volume: Volume | None = None
    run_as: int | None = None
    protected: bool = False
    reads: str | None = None
    service_account_annotations: Mapping[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None
    description: str | None = None
    schedule: Schedule | None = None
    pod: PodKnobs = PodKnobs()


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline.yaml. Stages are in declaration order, variants expanded."""

    name: str
    path: Path  # the pipeline file, absolute
    digest: str  # b3 of the canonical form of the file's content
    params: Mapping[str, Any]
    environments: Mapping[str, Environment]
    stages: Mapping[str, Stage]
    executor: str = "local"  # defaults.executor
    overrides: Mapping[str, Any] = field(default_factory=dict)  # params given by --param
    warnings: tuple[Diagnostic, ...] = ()  # valid, but worth telling the user

    @property
    def root(self) -> Path:
        """The project directory: relative paths in pipeline.yaml start here."""
        return self.path.parent

    def executor_for(self, stage: Stage, env: Environment) -> str:
        """The stage's own executor, else the environment's, else the default."""
        return stage.executor or env.executor or self.executor

    def variants(self, base: str) -> list[Stage]:
        """All stages expanded from the stage named `base` in pipeline.yaml."""
        return [s for s in self.stages.values() if s.base == base]
