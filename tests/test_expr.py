"""CEL through kitecli.spec.expr: plain data only, errors that say why, what an expression names."""

from __future__ import annotations

import pytest

from kitecli.spec import expr

FILES = [{"path": "a.csv", "size": 3, "digest": "b3:" + "0" * 64}]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('params.region == "eu-west-1"', True),
        ("files.all(f, f.size > 0) && count == 1", True),
        ('files.map(f, f.path)[0].endsWith(".csv")', True),
        ("params.ratio > 0.5", True),  # an int param against a double
        ("bytes < 10u", True),
        ("has(params.missing)", False),
        ('timestamp(datum.date + "T00:00:00Z").getMonth() == 0', True),
        ("-7 / 2", -3),
    ],
)
def test_evaluates_over_plain_data(source: str, expected: object) -> None:
    variables = {
        "params": {"region": "eu-west-1", "ratio": 1},
        "datum": {"date": "2024-01-15"},
        "files": FILES,
        "count": 1,
        "bytes": 3,
    }
    assert expr.evaluate(source, variables) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("params.nope == 1", "no such key: 'nope'"),
        ('"a" + 1', "Unsupported operation: string + int"),
        ("nothing > 1", "Undefined variable or function: 'nothing'"),
        ("1 / 0", "division by zero"),
    ],
)
def test_evaluation_errors_say_why_in_one_line(source: str, message: str) -> None:
    with pytest.raises(expr.ExprEvalError) as caught:
        expr.evaluate(source, {"params": {}})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "Check that" not in str(caught.value)


def test_a_condition_must_be_true_or_false() -> None:
    assert expr.condition("1 < 2", {}) is True
    with pytest.raises(expr.ExprEvalError, match="gave 3, not true or false"):
        expr.condition("1 + 2", {})


def test_nothing_callable_reaches_an_expression() -> None:
    with pytest.raises(TypeError, match="not plain data"):
        expr.evaluate("f(1)", {"f": print})
    with pytest.raises(TypeError, match="not plain data"):
        expr.evaluate("params.f", {"params": {"f": lambda: 1}})


def test_tuples_and_mappings_become_lists_and_dicts() -> None:
    assert expr.plain({"a": (1, {"b": (2,)})}) == {"a": [1, {"b": [2]}]}


def test_syntax_errors_have_a_position() -> None:
    problem = expr.check('params.region = "eu"')
    assert problem is not None
    assert (problem.line, problem.col) == (1, 15)
    assert expr.check("params.region == 'eu'") is None


def test_mentions_looks_at_variables_not_at_text() -> None:
    assert expr.mentions("datum.station != 'x'", "datum")
    assert not expr.mentions("params.kind == 'datum'", "datum")
    assert not expr.mentions("params.datum_count > 1", "datum")
    assert expr.names("files.all(f, f.size > 0)") >= {"files"}
