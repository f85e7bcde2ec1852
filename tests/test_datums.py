"""Datums from real directories: each, by, joins, broadcasts, crosses, generators, time fields."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitecli.errors import KiteError
from kitecli.plan import datums
from kitecli.scan.manifest import FileEntry, from_files, scan
from kitecli.spec import patterns
from kitecli.spec.model import CelList, DateRange, Input, Stage, ValueList
from tests.conftest import write

TODAY = dt.date(2024, 1, 5)


def stage(*inputs: Input, **generators: DateRange | ValueList | CelList) -> Stage:
    return Stage(name="s", base="s", command=("true",), inputs=inputs, datums=generators)


def keys(found: datums.DatumSet) -> list[dict[str, str]]:
    return [dict(d.key) for d in found.datums]


def plan_datums(root: Path, st_: Stage) -> datums.DatumSet:
    return datums.stage_datums(st_, scan(root), today=TODAY)


def test_each_makes_one_datum_per_matching_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "raw/2024-01-01/A.csv": "1",
            "raw/2024-01-01/B.csv": "2",
            "raw/2024-01-02/A.csv": "3",
            "raw/2024-01-02/notes.txt": "not a csv",
            "raw/README": "ignored",
        },
    )
    found = plan_datums(tmp_path, stage(Input("raw", "raw", "{date}/{station}.csv")))
    assert keys(found) == [
        {"date": "2024-01-01", "station": "A"},
        {"date": "2024-01-01", "station": "B"},
        {"date": "2024-01-02", "station": "A"},
    ]
    first = found.datums[0]
    assert list(first.files) == ["raw"]
    assert list(first.files["raw"]) == ["2024-01-01/A.csv"]
    assert first.files["raw"]["2024-01-01/A.csv"].size == 1


def test_key_values_are_the_strings_in_the_path(tmp_path: Path) -> None:
    write(tmp_path, {"in/007.csv": "x", "in/1e3.csv": "y"})
    found = plan_datums(tmp_path, stage(Input("in", "in", "{n}.csv")))
    assert keys(found) == [{"n": "007"}, {"n": "1e3"}]


def test_star_and_double_star(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "logs/a/x/2024-01-01.log": "1",
            "logs/a/2024-01-01.log": "2",
            "logs/b/y/z/2024-01-02.log": "3",
            "logs/b/2024-01-02.txt": "4",
        },
    )
    found = plan_datums(tmp_path, stage(Input("logs", "logs", "{host}/**/{date}.l*g")))
    assert keys(found) == [
        {"date": "2024-01-01", "host": "a"},
        {"date": "2024-01-02", "host": "b"},
    ]
    assert sorted(found.datums[0].files["logs"]) == ["a/2024-01-01.log", "a/x/2024-01-01.log"]


def test_by_groups_on_fewer_fields(tmp_path: Path) -> None:
    write(tmp_path, {f"daily/2010-0{m}/{s}.csv": f"{m}{s}" for m in (1, 2) for s in "AB"})
    found = plan_datums(tmp_path, stage(Input("d", "daily", "{month}/{station}.csv", ("month",))))
    assert keys(found) == [{"month": "2010-01"}, {"month": "2010-02"}]
    assert sorted(found.datums[0].files["d"]) == ["2010-01/A.csv", "2010-01/B.csv"]


def test_by_a_derived_time_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "clean/2024-01-30/A.parquet": "1",
            "clean/2024-01-31/A.parquet": "2",
            "clean/2024-02-01/A.parquet": "3",
            "clean/latest/A.parquet": "no date",
        },
    )
    found = plan_datums(tmp_path, stage(Input("c", "clean", "{date}/*.parquet", ("month",))))
    assert keys(found) == [{"month": "2024-01"}, {"month": "2024-02"}]
    assert len(found.datums[0].files["c"]) == 2
    assert any("no date to derive month" in w for w in found.warnings)
    by_year = plan_datums(tmp_path, stage(Input("c", "clean", "{date}/*.parquet", ("year",))))
    assert keys(by_year) == [{"year": "2024"}]


def test_keyed_inputs_join_on_common_fields(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "raw/2024-01-01/A.csv": "1",
            "raw/2024-01-01/B.csv": "2",
            "raw/2024-01-01/C.csv": "3",
            "meta/A.json": "{}",
            "meta/B.json": "{}",
            "meta/Z.json": "{}",
        },
    )
    found = plan_datums(
        tmp_path,
        stage(Input("raw", "raw", "{date}/{station}.csv"), Input("meta", "meta", "{station}.json")),
    )
    assert keys(found) == [
        {"date": "2024-01-01", "station": "A"},
        {"date": "2024-01-01", "station": "B"},
    ]
    assert dict(found.datums[1].files["meta"]) == {
        "B.json": scan(tmp_path / "meta").files["B.json"]
    }
    assert found.warnings == (
        "stage s: joining input meta on station: 2 keys without a partner in the other "
        "inputs, so no datum",
    )


def test_whole_directory_inputs_are_broadcast(tmp_path: Path) -> None:
    write(tmp_path, {"raw/A.csv": "1", "raw/B.csv": "2", "ref/stations/s.csv": "A,B"})
    st_ = stage(Input("raw", "raw", "{station}.csv"), Input("ref", "ref/stations"))
    found = plan_datums(tmp_path, st_)
    root = scan(tmp_path / "ref/stations").digest
    assert [dict(d.roots) for d in found.datums] == [{"ref": root}, {"ref": root}]
    assert all("ref" not in d.files for d in found.datums)
    (tmp_path / "ref/stations/s.csv").write_text("A,B,C")
    changed = plan_datums(tmp_path, st_)
    assert changed.datums[0].roots["ref"] != root


def test_whole_directory_only_is_one_datum(tmp_path: Path) -> None:
    st_ = stage(Input("monthly", "monthly"))
    assert keys(plan_datums(tmp_path, st_)) == []
    write(tmp_path, {"monthly/a.csv": "1"})
    found = plan_datums(tmp_path, st_)
    assert keys(found) == [{}]
    assert found.datums[0].roots == {"monthly": scan(tmp_path / "monthly").digest}
    assert found.datums[0].id == ""


def test_no_common_field_is_a_cross_product(tmp_path: Path) -> None:
    write(tmp_path, {"a/1.csv": "1", "a/2.csv": "2", "b/x.csv": "x", "b/y.csv": "y"})
    found = plan_datums(
        tmp_path, stage(Input("a", "a", "{n}.csv"), Input("b", "b", "{letter}.csv"))
    )
    assert [d.id for d in found.datums] == [
        "letter=x,n=1",
        "letter=x,n=2",
        "letter=y,n=1",
        "letter=y,n=2",
    ]
    assert dict(found.datums[1].files["a"]) == {"2.csv": scan(tmp_path / "a").files["2.csv"]}
    assert found.warnings == ()


def test_a_large_cross_product_warns() -> None:
    entry = FileEntry("b3:" + "0" * 64, 1)
    data = from_files(
        {**{f"a/{i}.csv": entry for i in range(101)}, **{f"b/{i}.txt": entry for i in range(100)}}
    )
    found = datums.stage_datums(
        stage(Input("a", "a", "{n}.csv"), Input("b", "b", "{m}.txt")), data, today=TODAY
    )
    assert len(found.datums) == 10_100
    assert any("crossed into 10100 datums" in w for w in found.warnings)


def test_missing_keyed_directory_has_no_datums(tmp_path: Path) -> None:
    found = plan_datums(tmp_path, stage(Input("raw", "raw", "{n}.csv")))
    assert found.datums == ()


def test_date_range_to_today() -> None:
    gen = DateRange(dt.date(2024, 1, 1), None, dt.timedelta(days=1))
    found = datums.stage_datums(stage(date=gen), from_files({}), today=TODAY)
    assert [d.key["date"] for d in found.datums] == [f"2024-01-0{i}" for i in range(1, 6)]
    assert all(d.files == {} and d.roots == {} for d in found.datums)


def test_date_range_every_week_and_explicit_end() -> None:
    gen = DateRange(dt.date(2024, 1, 1), dt.date(2024, 1, 31), dt.timedelta(days=7))
    assert datums.date_range(gen, today=TODAY) == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
        "2024-01-29",
    ]
    backwards = DateRange(dt.date(2024, 2, 1), dt.date(2024, 1, 1), dt.timedelta(days=1))
    assert datums.date_range(backwards, today=TODAY) == []


def test_timestamp_range_to_now() -> None:
    gen = DateRange(dt.datetime(2024, 1, 5, 0, 0), None, dt.timedelta(hours=6))
    now = dt.datetime(2024, 1, 5, 13, 0)
    assert datums.date_range(gen, today=TODAY, now=now) == [
        "2024-01-05T00:00",
        "2024-01-05T06:00",
        "2024-01-05T12:00",
    ]


def test_a_huge_range_is_refused() -> None:
    gen = DateRange(dt.datetime(1970, 1, 1), None, dt.timedelta(seconds=1))
    with pytest.raises(KiteError, match="every"):
        datums.date_range(gen, today=TODAY, now=dt.datetime(2024, 1, 1))


def test_value_and_cel_lists_cross() -> None:
    st_ = stage(
        station=ValueList(("A", "B", "A")),
        year=CelList("[params.first, params.first + 1]"),
    )
    found = datums.stage_datums(
        st_, from_files({}), today=TODAY, params={"first": 2020}, env="prod"
    )
    assert keys(found) == [
        {"station": "A", "year": "2020"},
        {"station": "A", "year": "2021"},
        {"station": "B", "year": "2020"},
        {"station": "B", "year": "2021"},
    ]


def test_cel_list_sees_env_and_must_be_a_list() -> None:
    ok = stage(region=CelList("env == 'prod' ? ['eu', 'us'] : ['test']"))
    assert keys(datums.generate(ok, today=TODAY, params={}, env="dev")) == [{"region": "test"}]
    with pytest.raises(KiteError, match="not a list"):
        datums.generate(stage(n=CelList("1 + 1")), today=TODAY, params={}, env="x")
    with pytest.raises(KiteError, match="failed"):
        datums.generate(stage(n=CelList("params.nope")), today=TODAY, params={}, env="x")


def test_source_stage_without_generators_is_one_datum() -> None:
    assert keys(datums.generate(stage(), today=TODAY, params={}, env="x")) == [{}]


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        ("2024-01-31", {"year": "2024", "month": "2024-01", "day": "2024-01-31"}),
        ("2024-01-31T06:00", {"year": "2024", "month": "2024-01", "day": "2024-01-31"}),
        ("2024-01-31T06:00:00Z", {"year": "2024", "month": "2024-01", "day": "2024-01-31"}),
        ("2024-03", {"year": "2024", "month": "2024-03"}),
        ("2024-02-30", {}),
        ("2024-13", {}),
        ("2024", {}),
        ("station-7", {}),
    ],
)
def test_time_fields(value: str, fields: dict[str, str]) -> None:
    assert patterns.time_fields(value) == fields


def test_datum_fields_keep_the_keys_own_and_prefer_the_finest_date() -> None:
    assert patterns.datum_fields({"month": "2010-01", "station": "A"}) == {
        "year": "2010",
        "month": "2010-01",
        "station": "A",
    }
    for dated in ({"a": "2024-05", "b": "2023-01-02"}, {"a": "2023-01-02", "b": "2024-05"}):
        both = patterns.datum_fields(dated)
        assert both["day"] == "2023-01-02"
        assert both["year"] == "2023"


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y", "z.csv"])).map(
            "/".join
        ),
        st.integers(min_value=0, max_value=9),
    )
)
def test_every_matching_file_is_in_exactly_one_datum(files: dict[str, int]) -> None:
    data = from_files({f"in/{p}": FileEntry("b3:" + "0" * 64, n) for p, n in files.items()})
    found = datums.stage_datums(stage(Input("in", "in", "{group}/*")), data, today=TODAY)
    seen = [p for d in found.datums for p in d.files["in"]]
    assert sorted(seen) == sorted(files)
    assert len({d.id for d in found.datums}) == len(found.datums)
    for d in found.datums:
        assert all(p.split("/")[0] == d.key["group"] for p in d.files["in"])
