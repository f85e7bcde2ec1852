"""`retries: {limit, on: CEL}` and `resources.on_retry`: a failure is retried only when the
condition holds on the attempt (exit code, reason, attempt, log); each retry may ask for
more (memory x2), locally as a memory limit on the process group and in the pod's spec.
The run record says why each retry happened and what each attempt asked for."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from kitecli.executors import podspec
from kitecli.spec.model import Resources
from tests import helpers
from tests.executors import golden_pods
from tests.helpers import write

PIPELINE = """\
kite: 1
name: retries
environments:
  dev: {data: ./data, metadata: ./meta, cache: ./cache}
stages:
  big:
    datums: {n: ["1"]}
    resources: {memory: 64Mi, on_retry: {memory: x4}}
    retries: {limit: 2}
    command: [python3, -c, "import time; b = b'x' * (100 * 2**20); time.sleep(1); open('{{ outputs.out }}/ok', 'w').write('ok')"]
    outputs: {out: big/}
  picky:
    datums: {n: ["1"]}
    retries: {limit: 2, on: "exit_code == 75 || log.contains('try me again')"}
    command: [sh, -c, 'echo "$WORDS"; exit CODE']
    env: {WORDS: WORDS_VALUE}
    outputs: {out: picky/}
"""  # noqa: E501


def project(root: Path, code: int = 3, words: str = "broken") -> None:
    text = PIPELINE.replace("CODE", str(code)).replace("WORDS_VALUE", words)
    write(root, {"pipeline.yaml": text})


def attempts(root: Path, stage: str) -> list[dict[str, object]]:
    shown = helpers.kite("show", "last", "--json", cwd=root)
    assert shown.code == 0, shown.stderr
    return [a for a in json.loads(shown.stdout)["attempts"] if a["stage"] == stage]


def test_an_out_of_memory_attempt_is_retried_with_more_memory(tmp_path: Path) -> None:
    project(tmp_path)
    result = helpers.kite("apply", "--stage", "big", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "attempt 1 failed (OOMKilled), retrying (retry 1 of 2, with memory 256Mi)" in (
        result.stderr
    )
    first, second = attempts(tmp_path, "big")
    assert (first["status"], first["reason"], first["resources"]) == (
        "failed",
        "OOMKilled",
        {"memory": "64Mi"},
    )
    assert first["retry"] == "retry 1 of 2"
    assert (second["status"], second["resources"]) == ("succeeded", {"memory": "256Mi"})
    assert (tmp_path / "data/big/ok").read_text() == "ok"
    shown = helpers.kite("show", "last", cwd=tmp_path).stdout
    assert "asked memory 64Mi" in shown
    assert "asked memory 256Mi" in shown


def test_an_exit_code_the_condition_does_not_name_is_not_retried(tmp_path: Path) -> None:
    project(tmp_path, code=3)
    result = helpers.kite("apply", "--stage", "picky", cwd=tmp_path)
    assert result.code == 1, result.stderr
    assert "not retried: `exit_code == 75 || log.contains('try me again')` is false" in (
        result.stderr
    )
    (only,) = attempts(tmp_path, "picky")
    assert only["exit_code"] == 3
    assert str(only["retry"]).startswith("not retried")


def test_the_condition_sees_the_exit_code_and_the_log(tmp_path: Path) -> None:
    project(tmp_path, code=75)
    result = helpers.kite("apply", "--stage", "picky", cwd=tmp_path)
    assert result.code == 1, result.stderr
    tried = attempts(tmp_path, "picky")
    assert [a["attempt"] for a in tried] == [1, 2, 3]  # limit 2: two retries, then it stops
    assert (
        tried[0]["retry"] == "retry 1 of 2: `exit_code == 75 || log.contains('try me again')` holds"
    )
    assert tried[2]["retry"] is None
    project(tmp_path, code=4, words="please try me again")
    again = helpers.kite("apply", "--stage", "picky", cwd=tmp_path)
    assert len(attempts(tmp_path, "picky")) == 3, again.stderr


def test_a_condition_that_does_not_parse_is_refused_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE.replace("exit_code == 75 ||", "exit_code == ||")})
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3
    assert "pipeline.yaml:14:" in result.stderr
    assert "invalid CEL expression" in result.stderr


def test_a_growth_that_is_no_quantity_is_refused_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.yaml": PIPELINE.replace("memory: x4", "memory: twice")})
    result = helpers.kite("validate", cwd=tmp_path)
    assert result.code == 3
    assert "pipeline.yaml:8:" in result.stderr
    assert "on_retry" in result.stderr


def test_a_retried_pod_asks_for_the_grown_memory() -> None:
    (task, *_rest) = golden_pods.tasks(golden_pods.load(golden_pods.cases()[0]))
    grown = Resources(memory="1Gi", on_retry={"memory": "x2"})
    stage = dataclasses.replace(task.stage, resources=grown)
    third = dataclasses.replace(task, stage=stage, attempt=3, asks=Resources(memory="4Gi"))
    pod = podspec.build_pod(
        [third], options=golden_pods.options(golden_pods.load(golden_pods.cases()[0]))
    )
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "4Gi"


def test_the_retries_example_gets_the_huge_sample_through_on_a_retry(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "examples/retries"
    root = tmp_path / "retries"
    shutil.copytree(example, root, ignore=shutil.ignore_patterns(".kite"))
    result = helpers.kite("apply", cwd=root)
    assert result.code == 0, result.stderr
    huge = [a for a in attempts(root, "sketch") if a["key"] == {"sample": "huge"}]
    assert [(a["reason"], a["resources"]) for a in huge] == [
        ("OOMKilled", {"memory": "64Mi"}),
        (None, {"memory": "256Mi"}),
    ]
    assert json.loads((root / "data/sketches/small.json").read_text())["the"] == 2
