"""Golden pod files: an input description (stage, environment, tasks, options) → Task values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kitecli.executors.base import Task
from kitecli.executors.podspec import Mount, PodOptions
from kitecli.spec.model import (
    Environment,
    PodKnobs,
    Resources,
    Retries,
    SecretRef,
    Stage,
    Volume,
)

GOLDEN = Path(__file__).parent.parent / "golden" / "pods"


def cases() -> list[Path]:
    return sorted(GOLDEN.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    with open(path) as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so `about:` reads as written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(case: dict[str, Any]) -> str:
    return yaml.dump(case, Dumper=_Dumper, sort_keys=False, width=100)


def knobs(raw: dict[str, Any] | None) -> PodKnobs:
    raw = dict(raw or {})
    raw["pull_secrets"] = tuple(raw.get("pull_secrets", ()))
    raw["secret_env"] = {k: SecretRef(**v) for k, v in raw.get("secret_env", {}).items()}
    return PodKnobs(**raw)


def environment(raw: dict[str, Any]) -> Environment:
    volume = raw.pop("volume", None)
    raw["pod"] = knobs(raw.get("pod"))
    return Environment(
        metadata=raw.pop("metadata", "/meta"),
        cache=raw.pop("cache", "/cache"),
        volume=Volume(**volume) if volume else None,
        **raw,
    )


def stage(raw: dict[str, Any]) -> Stage:
    raw = dict(raw)
    raw.setdefault("base", raw["name"])
    raw["command"] = tuple(raw.get("command", ()))
    raw["resources"] = Resources(**raw.get("resources", {}))
    raw["retries"] = Retries(**raw.get("retries", {}))
    raw["tolerations"] = tuple(raw.get("tolerations", ()))
    raw["pod"] = knobs(raw.get("pod"))
    return Stage(**raw)


def tasks(case: dict[str, Any]) -> list[Task]:
    spec = case["input"]
    env = environment(dict(spec["env"]))
    the_stage = stage(spec["stage"])
    return [
        Task(
            run_id=spec["run_id"],
            pipeline=spec["pipeline"],
            env=env,
            stage=the_stage,
            key=raw.get("key", {}),
            fingerprint=raw["fingerprint"],
            attempt=raw.get("attempt", 1),
            argv=tuple(raw["argv"]),
            environ=raw.get("environ", {}),
            workdir=raw.get("workdir", "/"),
            folder=raw.get("folder", ""),
        )
        for raw in spec["tasks"]
    ]


def options(case: dict[str, Any]) -> PodOptions:
    raw = dict(case["input"].get("options", {}))
    raw["read_only"] = tuple(Mount(**m) for m in raw.get("read_only", ()))
    return PodOptions(**raw)
