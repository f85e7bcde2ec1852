"""`--param NAME=VALUE` typing (kitecli/spec/params.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kitecli.errors import ExitCode, UsageError
from kitecli.spec import params
from kitecli.spec.model import Pipeline

DECLARED: dict[str, Any] = {
    "region": "eu",
    "limit": 5,
    "ratio": 0.5,
    "dry": False,
    "stations": ["a"],
    "weights": {"a": 1},
    "anything": None,
}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("region=x; rm -rf /", {"region": "x; rm -rf /"}),
        ("region=a=b", {"region": "a=b"}),
        ("limit=-12", {"limit": -12}),
        ("ratio=2", {"ratio": 2.0}),
        ("dry=TRUE", {"dry": True}),
        ('stations=["x", "y"]', {"stations": ["x", "y"]}),
        ('weights={"b": 2}', {"weights": {"b": 2}}),
        ("anything=[1]", {"anything": [1]}),
        ("anything=plain text", {"anything": "plain text"}),
    ],
)
def test_values_take_the_type_of_the_declared_param(item: str, expected: dict[str, Any]) -> None:
    assert params.parse([item], DECLARED) == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("limit=1.5", "limit is an int in pipeline.yaml, and '1.5' is not"),
        ("ratio=fast", "ratio is a number"),
        ("ratio=nan", "ratio is a number"),
        ("dry=maybe", "dry is a bool"),
        ("stations=a,b", "stations is a list"),
        ('stations={"a": 1}', "stations is a list"),
        ("weights=[1]", "weights is a mapping"),
        ("regoin=eu", "no param named 'regoin'"),
        ("region", "is not NAME=VALUE"),
        ("=eu", "is not NAME=VALUE"),
    ],
)
def test_wrong_values_are_usage_errors(item: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        params.parse([item], DECLARED)
    assert message in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.hint


def test_an_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(UsageError) as caught:
        params.parse(["regoin=eu"], DECLARED)
    assert caught.value.hint == "did you mean 'region'?"


def test_the_last_value_of_a_name_wins() -> None:
    assert params.parse(["limit=1", "limit=2"], DECLARED) == {"limit": 2}


def _pipeline() -> Pipeline:
    return Pipeline(
        name="p",
        path=Path("/p/pipeline.yaml"),
        digest="b3:" + "0" * 64,
        params=DECLARED,
        environments={},
        stages={},
    )


def test_override_changes_params_and_digest_and_remembers_what_was_given() -> None:
    pipeline = _pipeline()
    changed = params.override(pipeline, {"limit": 7})
    assert changed.params["limit"] == 7
    assert changed.params["region"] == "eu"
    assert changed.overrides == {"limit": 7}
    assert changed.digest != pipeline.digest
    assert params.override(pipeline, {"limit": 8}).digest != changed.digest
    assert params.override(pipeline, {}) is pipeline
