"""Schema-valid pipeline data → the frozen model: defaults, matrices, paths, durations."""

from __future__ import annotations

import datetime as dt
import getpass
import itertools
import json
import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kitecli.errors import Diagnostic
from kitecli.scan.hashing import digest_bytes
from kitecli.spec import code, repeat, schedule, templates
from kitecli.spec.model import (
    Accept,
    CelList,
    DateRange,
    Environment,
    Generator,
    Input,
    Output,
    Pipeline,
    PodKnobs,
    Ready,
    Resources,
    Retries,
    Scalar,
    SecretRef,
    Stage,
    Trigger,
    ValueList,
    Volume,
)
from kitecli.spec.timefmt import DURATION_HINT, parse_duration, parse_when
from kitecli.spec.yamlpos import Locator, PathT


def current_user() -> str:
    """The installing user: KITE_USER, else the OS user."""
    return os.environ.get("KITE_USER") or getpass.getuser()


def scalar_text(value: Scalar) -> str:
    """How a param, matrix or datum value reads inside a path or a command."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_url(location: str) -> bool:
    return "://" in location


def normalize(path: str) -> str:
    """A data path as kite keeps it: posix, no './', no trailing '/'."""
    return posixpath.normpath(path.strip()).removeprefix("./")


class _Builder:
    def __init__(self, data: dict[str, Any], file: Path, loc: Locator, user: str) -> None:
        self.data = data
        self.file = file
        self.loc = loc
        self.user = user
        self.problems: list[Diagnostic] = []
        self.defaults: dict[str, Any] = data.get("defaults", {})
        self.warnings: list[Diagnostic] = []
        self.kept: list[Path] = []  # folders of data and state: no code is inferred there

    def problem(self, path: PathT, message: str, hint: str | None = None) -> None:
        self.problems.append(self.loc.diag(path, message, hint))

    def duration(self, path: PathT, value: Any) -> float | None:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.problem(path, str(exc), DURATION_HINT)
            return None

    def pipeline(self) -> Pipeline:
        root = self.file.parent
        envs = {
            name: self.environment(name, raw, root)
            for name, raw in self.data.get("environments", {}).items()
        }
        if not envs:
            envs = {"default": self.environment("default", {"data": "."}, root)}
        self.kept = kept_folders(root, envs.values())
        stages: dict[str, Stage] = {}
        for name, raw in self.data.get("stages", {}).items():
            for stage in self.stages(name, raw):
                stages[stage.name] = stage
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"))
        return Pipeline(
            name=self.data.get("name") or _dns_name(root.name),
            path=self.file,
            digest=digest_bytes(canonical.encode()),
            params=dict(self.data.get("params", {})),
            environments=envs,
            stages=stages,
            executor=self.defaults.get("executor", "local"),
            warnings=tuple(self.warnings),
        )

    def environment(self, name: str, raw: dict[str, Any], root: Path) -> Environment:
        def place(value: str) -> str:
            value = value.replace("{user}", self.user)
            return value.rstrip("/") if is_url(value) else str((root / value).resolve())

        volume = raw.get("volume")
        return Environment(
            name=name,
            data=place(raw["data"]),
            metadata=place(raw.get("metadata", ".kite/meta")),
            cache=place(raw.get("cache", ".kite/cache")),
            executor=raw.get("executor"),
            namespace=_subst(raw.get("namespace"), self.user),
            volume=Volume(volume["claim"], volume["mount"]) if volume else None,
            run_as=self.uid(("environments", name, "run_as"), raw.get("run_as")),
            protected=bool(raw.get("protected", False)),
            reads=raw.get("reads"),
            service_account_annotations={
                k: _subst(scalar_text(v), self.user) or ""
                for k, v in raw.get("service_account_annotations", {}).items()
            },
            endpoint_url=raw.get("endpoint_url"),
            description=raw.get("description"),
            schedule=schedule.build(raw.get("schedule"), self.loc, name),
            pod=pod_knobs(raw),
        )

    def uid(self, path: PathT, value: int | str | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        import pwd

        try:
            return pwd.getpwnam(value.replace("{user}", self.user)).pw_uid
        except KeyError:
            self.problem(path, f"no such user on this machine: {value!r}", "give a uid number")
            return None

    def stages(self, base: str, raw: dict[str, Any]) -> Iterator[Stage]:
        matrix: dict[str, list[Scalar]] = raw.get("matrix", {})
        combos = itertools.product(*matrix.values()) if matrix else [()]
        for combo in combos:
            values = dict(zip(matrix, combo, strict=True))
            label = ",".join(f"{k}={scalar_text(v)}" for k, v in values.items())
            name = f"{base}[{label}]" if values else base
            yield self.stage(name, base, raw, values)

    def retries(self, at: PathT, raw: dict[str, Any], retries: dict[str, Any]) -> Retries:
        backoff = self.duration(
            (*self.origin(at, raw, "retries"), "backoff"), retries.get("backoff")
        )
        return Retries(
            limit=retries.get("limit", 0),
            backoff=backoff or 0.0,
            factor=float(retries.get("factor", 2.0)),
            on=retries.get("on"),
        )

    def limit(
        self, at: PathT, raw: dict[str, Any], merged: dict[str, Any], key: str
    ) -> float | None:
        """A duration of the stage (`timeout`, `start_timeout`), from it or `defaults:`."""
        return self.duration(self.origin(at, raw, key), merged.get(key))

    def generators(self, at: PathT, raw: dict[str, Any]) -> dict[str, Generator]:
        return {
            field: self.generator((*at, "datums", field), spec)
            for field, spec in raw.get("datums", {}).items()
        }

    def stage(self, name: str, base: str, raw: dict[str, Any], matrix: dict[str, Scalar]) -> Stage:
        at: PathT = ("stages", base)
        merged = {**self.defaults, **raw}
        env = _stage_env(self.defaults, raw)
        command = self.command((*at, "command"), raw["command"])
        matrix_text = {f"matrix.{k}": scalar_text(v) for k, v in matrix.items()}
        written = raw.get("outputs", {}).items()
        outputs = tuple(self.output((*at, "outputs", o), spec, matrix_text) for o, spec in written)
        return Stage(
            name=name,
            base=base,
            command=command,
            inputs=self.inputs(at, raw),
            outputs=outputs,
            datums=self.generators(at, raw),
            image=merged.get("image"),
            env=env,
            code=self.code(at, raw, command),
            version=None if raw.get("version") is None else str(raw["version"]),
            params=_referenced_params(command, env, outputs, raw.get("params", [])),
            matrix=matrix,
            when=raw.get("when"),
            repeat=repeat.build(raw.get("repeat"), self.loc, at),
            executor=raw.get("executor"),
            resources=_resources(merged.get("resources", {})),
            concurrency=raw.get("concurrency"),
            batch=raw.get("batch", 1),
            retries=self.retries(at, raw, merged.get("retries", {})),
            timeout=self.limit(at, raw, merged, "timeout"),
            start_timeout=self.limit(at, raw, merged, "start_timeout"),
            trigger=self.trigger((*at, "trigger"), raw.get("trigger")),
            identity=_subst(raw.get("identity"), self.user),
            node_selector={k: scalar_text(v) for k, v in merged.get("node_selector", {}).items()},
            tolerations=tuple(merged.get("tolerations", [])),
            automount_service_account_token=raw.get("automount_service_account_token", False),
            description=raw.get("description"),
            pod=pod_knobs(merged),
        )

    def trigger(self, at: PathT, raw: dict[str, Any] | None) -> Trigger | None:
        if raw is None:
            return None
        wait = self.duration((*at, "max_wait"), raw.get("max_wait"))
        return Trigger(int(raw.get("min_new", 1)), wait)

    def origin(self, at: PathT, raw: dict[str, Any], key: str) -> PathT:
        """Where a stage's `key` is written: in the stage, else in `defaults:`."""
        return (*at, key) if key in raw else ("defaults", key)

    def command(self, path: PathT, raw: list[str] | str) -> tuple[str, ...]:
        if isinstance(raw, list):
            return tuple(raw)
        try:
            return tuple(templates.split(raw))  # each {{ ... }} kept whole
        except ValueError as exc:
            self.problem(path, f"cannot split the command: {exc}", "write the command as a list")
            return (raw,)

    def code(self, at: PathT, raw: dict[str, Any], command: tuple[str, ...]) -> tuple[str, ...]:
        """The stage's `code:` files, then (unless `infer: false`) those its command names;
        a warning for each item that looks like a project file but is none."""
        spec = raw.get("code", [])
        listed = spec.get("files", []) if isinstance(spec, dict) else spec
        files = [normalize(c) for c in listed]
        root = self.file.parent
        for index, item in code.missing(root, command, self.kept):
            where = (
                (*at, "command", index) if isinstance(raw["command"], list) else (*at, "command")
            )
            self.warnings.append(
                self.loc.diag(
                    where,
                    f"the command names {item}, which is not a file in the project",
                    "fix the path (relative to the folder of pipeline.yaml), or ignore this "
                    "if the command makes it",
                )
            )
        if not isinstance(spec, dict) or spec.get("infer", True):
            files += [f for f in code.named_files(root, command, self.kept) if f not in files]
        return tuple(files)

    def inputs(self, at: PathT, raw: dict[str, Any]) -> tuple[Input, ...]:
        return tuple(self.input((*at, "inputs", n), s) for n, s in raw.get("inputs", {}).items())

    def input(self, at: PathT, spec: str | dict[str, Any]) -> Input:
        name = str(at[-1])
        line, col = self.loc.at(at if isinstance(spec, str) else (*at, "path"))
        where = f"{self.loc.file}:{line}:{col}"
        if isinstance(spec, str):
            return Input(name, normalize(spec), at=where)
        by = spec.get("by")
        exclude = spec.get("exclude", ())
        return Input(
            name,
            normalize(spec["path"]),
            spec.get("each"),
            tuple(by) if by else None,
            tuple([exclude] if isinstance(exclude, str) else exclude),
            bool(spec.get("optional", False)),
            _ready(spec.get("ready")),
            at=where,
        )

    def output(self, at: PathT, spec: str | dict[str, Any], matrix: dict[str, str]) -> Output:
        name = str(at[-1])
        path = normalize(_render_known(spec if isinstance(spec, str) else spec["path"], matrix))
        if isinstance(spec, str):
            return Output(name, path)
        optional = bool(spec.get("optional", False))
        accept = spec.get("accept")
        if accept is None:
            return Output(name, path, optional=optional)
        check = accept.get("command", ())
        if isinstance(check, str):
            check = self.command((*at, "accept", "command"), check)
        gate = Accept(
            min_files=accept.get("min_files"),
            max_files=accept.get("max_files"),
            max_bytes=accept.get("max_bytes"),
            json_schema=normalize(accept["json_schema"]) if accept.get("json_schema") else None,
            rules=tuple(accept.get("rules", ())),
            command=tuple(check),
        )
        return Output(name, path, gate, optional=optional)

    def generator(self, path: PathT, spec: Any) -> Generator:
        if isinstance(spec, str):
            return CelList(spec)
        if isinstance(spec, list):
            return ValueList(tuple(scalar_text(v) for v in spec))
        start = self.when((*path, "from"), spec["from"])
        end = (
            None
            if spec.get("to", "today") in ("today", "now")
            else self.when((*path, "to"), spec["to"])
        )
        every = self.duration((*path, "every"), spec.get("every", "1d"))
        if every is not None and every <= 0:
            self.problem((*path, "every"), "the step must be longer than zero", DURATION_HINT)
        if not every or every <= 0:
            every = 86400.0
        if start is not None and end is not None and type(start) is not type(end):
            self.problem((*path, "to"), "`from` and `to` must both be dates or both timestamps")
        return DateRange(start or dt.date(1970, 1, 1), end, dt.timedelta(seconds=every))

    def when(self, path: PathT, value: Any) -> dt.date | dt.datetime | None:
        try:
            return parse_when(value)
        except ValueError as exc:
            message = str(exc)
            if not message.startswith("not a date"):
                message = f"not a date: {value!r} ({message})"
            self.problem(path, message, "dates are written 2024-01-31; the day must exist")
            return None


def _stage_env(defaults: dict[str, Any], raw: dict[str, Any]) -> dict[str, str]:
    """The stage's `env:` over that of `defaults:`, as text."""
    merged = {**defaults.get("env", {}), **raw.get("env", {})}
    return {k: scalar_text(v) for k, v in merged.items()}


def _subst(value: str | None, user: str) -> str | None:
    return None if value is None else value.replace("{user}", user)


def _render_known(text: str, values: dict[str, str]) -> str:
    """Substitute the references `values` knows; leave the rest for the checks to report."""
    out = text
    for ref in reversed(list(templates.references(text))):
        if ref.name in values:
            out = out[: ref.start] + values[ref.name] + out[ref.end :]
    return out


def _referenced_params(
    command: tuple[str, ...],
    env: dict[str, str],
    outputs: tuple[Output, ...],
    declared: list[str],
) -> tuple[str, ...]:
    """The params a stage's command can see: those its command, env and output paths name,
    and its `params:` list. A param named only in `when:` decides whether a datum runs,
    not what it makes: it is not among them (docs/expressions.md)."""
    names = set(declared)
    for text in (*command, *env.values(), *(o.path for o in outputs)):
        for ref in templates.references(text):
            if ref.name and ref.name.startswith("params."):
                names.add(ref.name.split(".", 1)[1])
    return tuple(sorted(names))


def kept_folders(root: Path, envs: Iterable[Environment]) -> list[Path]:
    """The folders kite keeps data and state in, on this machine: `.kite/` and each
    environment's data root, metadata repo and cache."""
    found = [(root / ".kite").resolve()]
    for env in envs:
        found += [Path(p) for p in (env.data, env.metadata, env.cache) if not is_url(p)]
    return found


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:40].strip("-") or "pipeline"


def build(
    data: dict[str, Any], file: Path, loc: Locator, *, user: str | None = None
) -> tuple[Pipeline, list[Diagnostic]]:
    """The model of schema-valid `data`, and the problems found while building it."""
    builder = _Builder(data, file, loc, user or current_user())
    return builder.pipeline(), builder.problems


def _resources(resources: dict[str, Any]) -> Resources:
    return Resources(
        cpu=None if resources.get("cpu") is None else str(resources["cpu"]),
        memory=resources.get("memory"),
        gpu=resources.get("gpu"),
        ephemeral_storage=resources.get("ephemeral_storage"),
        cpu_limit=None if resources.get("cpu_limit") is None else str(resources["cpu_limit"]),
        on_retry=dict(resources.get("on_retry", {})),
    )


def pod_knobs(raw: dict[str, Any]) -> PodKnobs:
    """`pod_labels`, `pod_annotations`, `image_pull_secrets`, `priority_class`, `affinity`
    and `secret_env` of a stage (merged with `defaults:`) or an environment."""
    return PodKnobs(
        labels={k: scalar_text(v) for k, v in raw.get("pod_labels", {}).items()},
        annotations={k: scalar_text(v) for k, v in raw.get("pod_annotations", {}).items()},
        pull_secrets=tuple(raw.get("image_pull_secrets", ())),
        priority_class=raw.get("priority_class"),
        affinity=dict(raw.get("affinity", {})),
        secret_env={
            name: SecretRef(ref["secret"], ref["key"], bool(ref.get("optional", False)))
            for name, ref in raw.get("secret_env", {}).items()
        },
    )


def _ready(spec: str | dict[str, str] | None) -> Ready | None:
    """An input's `ready:`: a marker path, or `{marker: PATH, when: CEL}`."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return Ready(marker=normalize(spec))
    marker = spec.get("marker")
    return Ready(normalize(marker) if marker else None, spec.get("when"))
