"""Lanes: which executor runs a stage in `kite apply`, where its folders are, where it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitecli.env import guard
from kitecli.errors import KiteError, ProjectError, WriteRefused
from kitecli.executors.local import LocalExecutor
from kitecli.run.lanes import Lanes, Work, lane
from kitecli.spec import loader
from kitecli.spec.model import Pipeline
from tests.helpers import write

PIPELINE = """\
kite: 1
name: lanes
environments:
  dev: {{data: ./data}}
  pods:
    executor: kubernetes
    namespace: kite-test
    {volume}
    data: {data}
{defaults}
stages:
  fetch:
    datums: {{day: [a, b]}}
    command: [sh, -c, "echo {{{{ datum.day }}}} > {{{{ outputs.raw }}}}/x"]
    outputs: {{raw: raw/}}
  report:
    executor: local
    inputs: {{raw: raw/}}
    command: [sh, -c, "ls {{{{ inputs.raw }}}}"]
    outputs: {{report: report/}}
"""


def load(
    root: Path, *, mount: Path | None, data: str = "./data-pods", image: bool = True
) -> Pipeline:
    volume = f'volume: {{claim: kite-data, mount: "{mount}"}}' if mount else ""
    defaults = "defaults: {image: busybox:1.36}" if image else ""
    write(root, {"pipeline.yaml": PIPELINE.format(volume=volume, data=data, defaults=defaults)})
    return loader.load(root / "pipeline.yaml")


def test_each_stage_gets_the_executor_and_place_it_asks_for(tmp_path: Path) -> None:
    pipeline = load(tmp_path, mount=tmp_path)  # the project is on the volume
    env = pipeline.environments["pods"]
    fetch, report = pipeline.stages["fetch"], pipeline.stages["report"]
    scratch = tmp_path / ".kite" / "tmp" / "run-1"
    pod_lane = lane(pipeline, env, fetch, LocalExecutor(), scratch=scratch)
    assert pod_lane.workdir == str(tmp_path)  # the pod sees the project folder
    assert pod_lane.identity == "kite-pods-lanes-fetch"
    one = Work(fetch, {"day": "a"}, "b3:" + "ab" * 32, 2)
    base = tmp_path / ".kite" / "tmp" / "pods" / "fetch"
    assert pod_lane.folders([one]) == [base / ("ab" * 12 + "-2")]  # named like its pod
    other = Work(fetch, {"day": "b"}, "b3:" + "cd" * 32, 2)
    batch = pod_lane.folders([one, other])  # a batch: named after the whole pod
    assert [p.name for p in batch] == ["0", "1"]
    assert batch[0].parent == batch[1].parent != base / ("ab" * 12 + "-2")
    assert pod_lane.folders([other, one])[0].parent != batch[0].parent
    local_lane = lane(pipeline, env, report, LocalExecutor(), scratch=scratch)
    assert (local_lane.workdir, local_lane.identity, local_lane.adoptable) == (
        str(tmp_path),
        None,
        False,
    )
    # a local datum works in a folder of its own, the same for each of its attempts
    mine = local_lane.folders([Work(report, {"day": "a"}, "b3:00", 1)])
    assert mine == local_lane.folders([Work(report, {"day": "a"}, "b3:01", 2)])
    assert mine != local_lane.folders([Work(report, {"day": "b"}, "b3:00", 1)])
    assert [p.parent for p in mine] == [scratch / "report"]
    elsewhere = load(tmp_path / "project", mount=tmp_path / "volume", data=str(tmp_path / "volume"))
    lane_out = lane(
        elsewhere, elsewhere.environments["pods"], fetch, LocalExecutor(), scratch=scratch
    )
    assert lane_out.workdir == ""  # not on the volume: the image's working directory


def test_a_kubernetes_stage_needs_a_volume_kite_sees(tmp_path: Path) -> None:
    pipeline = load(tmp_path, mount=None)
    stages = list(pipeline.stages.values())
    with pytest.raises(ProjectError, match="is on no volume"):
        Lanes(pipeline=pipeline, env=pipeline.environments["pods"], stages=stages, scratch=tmp_path)
    away = Path("/nonexistent-kite-volume")
    pipeline = load(tmp_path, mount=away, data=str(away / "pods"))
    with pytest.raises(ProjectError, match="kite does not see the volume"):
        Lanes(pipeline=pipeline, env=pipeline.environments["pods"], stages=stages, scratch=tmp_path)
    pipeline = load(tmp_path, mount=tmp_path, image=False)
    stages = list(pipeline.stages.values())
    with pytest.raises(KiteError, match="has no image"):
        Lanes(pipeline=pipeline, env=pipeline.environments["pods"], stages=stages, scratch=tmp_path)


def test_only_the_executors_needed_are_made(tmp_path: Path) -> None:
    pipeline = load(tmp_path, mount=None)  # no volume, but no stage runs on Kubernetes
    lanes = Lanes(
        pipeline=pipeline,
        env=pipeline.environments["pods"],
        stages=[pipeline.stages["report"]],
        scratch=tmp_path,
    )
    assert lanes(pipeline.stages["report"]).executor.name == "local"
    assert lanes.folders() == []  # no pods: nothing to clear (local folders are swept)
    lanes.close()


def test_apply_refuses_a_kubernetes_stage_without_a_volume(run_kite, tmp_path: Path) -> None:
    load(tmp_path, mount=None)
    result = run_kite("apply", "--env", "pods")
    assert result.code == 3, result.stderr
    assert "on no volume the pods can mount" in result.stderr
    assert "hint: add `volume:" in result.stderr


def test_the_pods_folders_are_writable_unless_in_another_data_root(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    pipeline = load(tmp_path, mount=volume, data=str(volume / "pods"))
    env = pipeline.environments["pods"]
    lanes = Lanes(pipeline=pipeline, env=env, stages=[], scratch=tmp_path / ".kite" / "tmp")
    found = guard.of(pipeline, env)
    folder = volume / ".kite" / "tmp" / "pods" / "fetch" / "ab-1"
    with pytest.raises(WriteRefused, match="outside the roots"):
        found.check(folder, doing="prepare a working folder at")
    assert lanes.writes(found, ["report"]) is found  # no stage of those runs in pods
    lanes.writes(found, ["fetch"]).check(folder, doing="prepare a working folder at")
    # the volume's .kite/ a link into the data root of environment dev: refused up front
    (tmp_path / "data").mkdir()
    volume.mkdir()
    (volume / ".kite").symlink_to(tmp_path / "data", target_is_directory=True)
    with pytest.raises(WriteRefused, match="data root of environment 'dev'"):
        lanes.writes(found, ["fetch"])


def test_a_pod_sees_its_datum_folder_at_one_path_in_every_run(tmp_path: Path) -> None:
    from kitecli.executors.podspec import PodOptions, build_pod

    pipeline = load(tmp_path, mount=tmp_path)
    env, fetch = pipeline.environments["pods"], pipeline.stages["fetch"]
    pod_lane = lane(pipeline, env, fetch, LocalExecutor(), scratch=tmp_path)
    found = []
    for run_id, attempt in (("run-1", 1), ("run-2", 3)):
        work = Work(fetch, {"day": "a"}, "b3:" + "ab" * 32, attempt)
        [(task, workspace)] = pod_lane.tasks(pipeline, env, run_id, [work])
        assert task.folder == str(workspace.folder)  # where it really is, on the volume
        container = build_pod([task], options=PodOptions())["spec"]["containers"][0]
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/kite/datum")
        assert mount["subPath"] == str(workspace.folder.relative_to(tmp_path))
        found.append((task.argv, dict(task.environ)))
    assert found[0] == found[1]  # nothing of the run, the attempt or the folder's name
    assert found[0][0][-1] == "echo a > /kite/datum/out/raw/x"
    assert found[0][1]["TMPDIR"] == "/kite/datum/tmp"
