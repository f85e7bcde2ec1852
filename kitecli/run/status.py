"""`kite status`: an environment's schedule, next and last run, and whether one runs now.

From the pipeline (the schedule), the metadata repo (the last run, the lease) and, when the
environment has a schedule, the cluster (its CronJob's last schedule and active Jobs). No
server of kite's own: what the cluster cannot tell (no right to read CronJobs, no
cluster) is said, not fatal.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitecli.errors import KiteError
from kitecli.history import ledger
from kitecli.history.project import open_project
from kitecli.spec import cron
from kitecli.spec.schedule import zone


@dataclass(frozen=True)
class LastRun:
    id: str
    status: str
    started: float
    ended: float | None
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Running:
    holder: str
    host: str
    pid: int
    expires: float


@dataclass(frozen=True)
class CronJobView:
    """What the cluster says of the schedule's CronJob."""

    name: str
    found: bool = False
    suspended: bool = False
    last_schedule: str | None = None
    last_success: str | None = None
    active: int = 0
    note: str = ""  # why the cluster could not say


@dataclass(frozen=True)
class Status:
    env: str
    schedule: dict[str, Any] | None
    next_run: float | None
    running: Running | None
    last_run: LastRun | None
    cluster: CronJobView | None = None
    checked: float = field(default_factory=time.time)


def status(
    *,
    file: Path | None,
    env: str | None,
    kubeconfig: str | None = None,
    context: str | None = None,
    cluster: bool = True,
    now: float | None = None,
) -> Status:
    """The status of the environment (`cluster=False`: without asking the cluster)."""
    project = open_project(file, env)
    environment = project.env
    moment = time.time() if now is None else now
    found = next(iter(ledger.runs(project.repo, environment.name)), None)
    last = (
        None
        if found is None
        else LastRun(found.id, found.status, found.started, found.ended, found.argv)
    )
    held = project.repo.lease_holder(environment.name)
    running = None if held is None else Running(held.holder, held.host, held.pid, held.expires)
    schedule = environment.schedule
    if schedule is None:
        return Status(environment.name, None, None, running, last, checked=moment)
    when = dt.datetime.fromtimestamp(moment, dt.UTC)
    upcoming = cron.next_run(cron.parse(schedule.cron), when, zone(schedule.timezone))
    view = None
    if cluster:
        view = _cronjob(project.pipeline.name, environment, kubeconfig, context)
    described = {
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "if_busy": schedule.if_busy,
        "stages": list(schedule.stages),
        "downstream": schedule.downstream,
        "params": dict(schedule.params),
        "image": schedule.image,
    }
    next_run = None if upcoming is None else upcoming.timestamp()
    return Status(environment.name, described, next_run, running, last, view, checked=moment)


def _cronjob(pipeline: str, env: Any, kubeconfig: str | None, context: str | None) -> CronJobView:
    from kitecli.executors.runner import cronjob_name

    name = cronjob_name(env.name, pipeline)
    try:
        from kitecli.executors.kubernetes import ClusterApi
        from kitecli.executors.kubernetes_objects import Objects
        from kitecli.executors.pods import KubernetesOptions
    except ImportError:
        return CronJobView(name, note="the kubernetes client is not installed (kite[k8s])")
    # two quick tries: a status that waits a minute for a cluster that is down says nothing
    options = KubernetesOptions(kubeconfig=kubeconfig, context=context, retries=2, backoff=0.2)
    try:
        api = ClusterApi.connect(options)
    except KiteError as exc:
        return CronJobView(name, note=exc.message)
    try:
        found = Objects(api).read("CronJob", env.namespace or api.namespace, name)
    except KiteError as exc:
        return CronJobView(name, note=exc.message)
    finally:
        api.close()
    if found is None:
        return CronJobView(name, note=f"not installed: run `kite install --env {env.name}`")
    state = found.get("status", {})
    return CronJobView(
        name,
        found=True,
        suspended=bool(found.get("spec", {}).get("suspend")),
        last_schedule=state.get("lastScheduleTime"),
        last_success=state.get("lastSuccessfulTime"),
        active=len(state.get("active", [])),
    )
