"""Compare the two maintained CEL libraries for Python on what kite needs of them.

Usage: python bench/cel_compare.py [--datums 10000] [--runs 5]

`common-expression-language` (module `cel`, a Rust core) and `cel-python` (module `celpy`,
pure Python). Install both to compare (`pip install cel-python`; the other is a dependency
of kite). Prints a correctness table of the cases kite's `when:`, `accept.rules` and
`datums:` expressions meet (expected values follow the CEL specification), then speed:
import time in a fresh interpreter, compile time, and evaluation per datum over N datums
(the variables built for each datum are part of what is timed, as kite pays for them too).
Times are CPU seconds of the process (user + system), so a busy machine does not inflate them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ERROR = "error"  # the case must fail (an error, not a value)


@dataclass(frozen=True)
class Case:
    group: str
    source: str
    expected: Any  # a plain value, or ERROR
    note: str = ""


FILES = [
    {"path": "a.csv", "size": 10, "digest": "b3:" + "a" * 64},
    {"path": "b/c.json", "size": 20, "digest": "b3:" + "c" * 64},
]
VARIABLES: dict[str, Any] = {
    "params": {
        "region": "eu-west-1",
        "min_temp_c": -60,
        "ratio": 1,
        "optional": None,
        "stations": ["seattle", "boston"],
    },
    "env": "prod",
    "datum": {"station": "seattle", "date": "2024-01-15", "city": "münchen"},
    "files": FILES,
    "count": 2,
    "bytes": 30,
}

CASES = (
    Case("strings", 'datum.station.startsWith("sea")', True),
    Case("strings", 'datum.station.endsWith("tle")', True),
    Case("strings", 'datum.station.contains("att")', True),
    Case("strings", 'datum.station.matches("^s[a-z]+$")', True),
    Case("strings", 'size("héllo")', 5, "code points, not bytes"),
    Case("strings", 'datum.city == "münchen"', True),
    Case("strings", 'params.region + "/" + string(params.min_temp_c)', "eu-west-1/-60"),
    Case("strings", 'params.region == "eu-west-1"', True, "a value with hyphens (Argo #3611)"),
    Case("strings", 'datum.date < "2024-02-01"', True, "ordering of strings"),
    Case("strings", '"a" + 1', ERROR, "no implicit conversion"),
    Case("strings", '"AbC".lowerAscii()', "abc", "strings extension (Kubernetes has it)"),
    Case("macros", "files.all(f, f.size > 0)", True),
    Case("macros", 'files.exists(f, f.path.endsWith(".json"))', True),
    Case("macros", "files.exists_one(f, f.size > 15)", True),
    Case("macros", "files.map(f, f.size)", [10, 20]),
    Case("macros", "files.map(f, f.size > 15, f.path)", ["b/c.json"], "map with a filter"),
    Case("macros", "files.filter(f, f.size > 15).size() == 1", True),
    Case("macros", "size(files) == count", True),
    Case("macros", 'files.all(f, f.digest.startsWith("b3:"))', True),
    Case("macros", "datum.station in params.stations", True),
    Case("numbers", "params.min_temp_c < 0", True),
    Case("numbers", "params.ratio > 0.5", True, "int against double"),
    Case("numbers", "params.ratio == 1.0", True, "int equals double"),
    Case("numbers", "bytes < 1000000u", True, "int against uint"),
    Case("numbers", "count * 2.0", ERROR, "no mixed arithmetic"),
    Case("numbers", "double(bytes) / double(count)", 15.0),
    Case("numbers", "-7 / 2", -3, "truncates toward zero"),
    Case("numbers", "-7 % 2", -1, "sign of the dividend"),
    Case("numbers", "1 / 0", ERROR),
    Case("numbers", "9223372036854775807 + 1", ERROR, "int64 overflow"),
    Case("numbers", "1u - 2u", ERROR, "uint underflow"),
    Case("missing", "params.missing == 1", ERROR),
    Case("missing", "has(params.missing)", False),
    Case("missing", '"missing" in params', False),
    Case("missing", "false && params.missing == 1", False, "errors absorbed by &&"),
    Case("missing", "params.missing == 1 || true", True, "commutative ||"),
    Case("missing", "params.optional == null", True),
    Case("missing", "undeclared > 1", ERROR),
    Case("time", 'timestamp("2024-01-31T00:00:00Z") < timestamp("2024-02-01T00:00:00Z")', True),
    Case("time", 'timestamp(datum.date + "T00:00:00Z").getMonth()', 0, "months from 0"),
    Case("time", 'timestamp(datum.date + "T00:00:00Z").getDayOfWeek()', 1, "Sunday is 0"),
    Case(
        "time",
        'timestamp("2024-03-01T00:00:00Z") - timestamp("2024-02-01T00:00:00Z") == duration("696h")',
        True,
        "leap year",
    ),
    Case(
        "time",
        'string(timestamp("2024-01-01T00:00:00Z") + duration("36h")) == "2024-01-02T12:00:00Z"',
        True,
    ),
    Case("time", 'timestamp("2024-13-01T00:00:00Z")', ERROR, "no month 13"),
    Case("types", "type(params.region) == string", True),
    Case("types", 'int("42") + 1', 43),
    Case("types", 'int("4x2")', ERROR),
)
SYNTAX = ("params.region ==", 'params.region = "eu"', "files.all(f, f.size > 0", "a &&& b")


# -- the two libraries behind one interface ------------------------------------------
class Library:
    name = ""
    module = ""
    load = ""  # what a fresh interpreter runs to have the library ready (timed)

    def compile(self, source: str) -> Any:
        raise NotImplementedError

    def run(self, program: Any, variables: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def evaluate(self, source: str, variables: Mapping[str, Any]) -> Any:
        return self.run(self.compile(source), variables)


class RustCel(Library):
    name, module = "common-expression-language", "cel"
    load = "import cel"

    def __init__(self) -> None:
        import cel

        self.cel = cel

    def compile(self, source: str) -> Any:
        return self.cel.compile(source)

    def run(self, program: Any, variables: Mapping[str, Any]) -> Any:
        return program.execute(dict(variables))


class CelPython(Library):
    name, module = "cel-python", "celpy"
    load = "import celpy"

    def __init__(self) -> None:
        import celpy

        self.celpy = celpy
        self.env = celpy.Environment()

    def compile(self, source: str) -> Any:
        return self.env.program(self.env.compile(source))

    def run(self, program: Any, variables: Mapping[str, Any]) -> Any:
        activation = {k: self.celpy.json_to_cel(v) for k, v in variables.items()}
        result = program.evaluate(activation)
        if isinstance(result, self.celpy.CELEvalError):  # returned, not raised, at times
            raise result
        return plain(result)


class KiteCel(RustCel):
    """common-expression-language as kite loads it: its compiled core only."""

    name = "common-expression-language, core only (kitecli.spec.expr)"
    load = "from kitecli.spec import expr; expr._cel()"

    def __init__(self) -> None:
        from kitecli.spec import expr

        self.cel = expr._cel()


def plain(value: Any) -> Any:
    """cel-python's wrapped values as plain Python values."""
    if isinstance(value, bool) or type(value).__name__ == "BoolType":
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return dt.datetime.fromtimestamp(value.timestamp(), tz=dt.UTC)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def libraries() -> list[Library]:
    found: list[Library] = []
    for kind in (RustCel, CelPython, KiteCel):
        try:
            found.append(kind())
        except ImportError:
            print(f"({kind.name} is not installed: pip install {kind.name})", file=sys.stderr)
    return found


# -- correctness ------------------------------------------------------------------------
def same(got: Any, expected: Any) -> bool:
    """Equal, and of the same kind: True is not 1, 3 is not 3.0."""
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(same, got, expected))
    return type(got) is type(expected) and got == expected


def verdict(lib: Library, case: Case) -> tuple[bool, str]:
    try:
        got = lib.evaluate(case.source, VARIABLES)
    except Exception as exc:
        message = " ".join(str(exc).split())[:60]
        return case.expected == ERROR, f"error: {type(exc).__name__}: {message}"
    return case.expected != ERROR and same(got, case.expected), repr(got)[:60]


def syntax_verdict(lib: Library, source: str) -> tuple[bool, str]:
    """A syntax error must say where it is: a line:col or a caret under the source."""
    try:
        lib.compile(source)
    except Exception as exc:
        text = str(exc)
        where = "^" in text or any(f":{n}:" in text for n in range(1, 40))
        first = " ".join(text.split())[:60]
        return where, first
    return False, "compiled"


def correctness(libs: list[Library]) -> None:
    print("## Correctness (expected values per the CEL specification)\n")
    header = "| group | expression | expected | " + " | ".join(lib.name for lib in libs) + " |"
    print(header)
    print("|" + " --- |" * (3 + len(libs)))
    scores = dict.fromkeys((lib.name for lib in libs), 0)
    for case in CASES:
        cells = []
        for lib in libs:
            ok, shown = verdict(lib, case)
            scores[lib.name] += ok
            cells.append(("ok " if ok else "**WRONG** ") + shown.replace("|", "\\|"))
        expected = case.expected if case.expected == ERROR else repr(case.expected)
        source = case.source.replace("|", "\\|")
        note = f" ({case.note})" if case.note else ""
        print(f"| {case.group} | `{source}`{note} | {expected} | " + " | ".join(cells) + " |")
    for source in SYNTAX:
        cells = []
        for lib in libs:
            ok, shown = syntax_verdict(lib, source)
            scores[lib.name] += ok
            cells.append(("ok " if ok else "**NO POSITION** ") + shown.replace("|", "\\|"))
        print(f"| syntax | `{source}` | error with a position | " + " | ".join(cells) + " |")
    total = len(CASES) + len(SYNTAX)
    print()
    for name, score in scores.items():
        print(f"- {name}: {score}/{total} as the specification says")
    print()


# -- speed ------------------------------------------------------------------------------
def import_seconds(load: str, runs: int) -> float:
    """Median time to run `load` (an import) in a fresh interpreter."""
    code = f"import time; t = time.process_time(); {load}; print(time.process_time() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


WHEN = 'params.region == "eu-west-1" && datum.station.startsWith("s") && params.min_temp_c < 0'
RULE = 'count >= 1 && files.all(f, f.size > 0 && f.path.endsWith(".csv"))'


def per_datum(lib: Library, source: str, make: Callable[[int], dict[str, Any]], n: int) -> float:
    """Seconds per datum to evaluate `source` over n datums (one compile)."""
    program = lib.compile(source)
    start = time.process_time()
    for i in range(n):
        lib.run(program, make(i))
    return (time.process_time() - start) / n


def when_variables(i: int) -> dict[str, Any]:
    return {
        "params": VARIABLES["params"],
        "env": "prod",
        "datum": {"station": f"s{i % 97}", "date": "2024-01-15"},
    }


def rule_variables(i: int) -> dict[str, Any]:
    files = [{"path": f"{i}/{j}.csv", "size": j + 1, "digest": "b3:" + "0" * 64} for j in range(10)]
    return {"files": files, "count": len(files), "bytes": sum(f["size"] for f in files)}


def speed(libs: list[Library], datums: int, runs: int) -> None:
    print(f"## Speed (CPU time, median of {runs} runs; evaluation over {datums} datums)\n")
    print(
        "| library | import | compile | `when:` per datum | `accept.rules` (10 files) per datum |"
    )
    print("| --- | --- | --- | --- | --- |")
    for lib in libs:
        imported = import_seconds(lib.load, runs)
        compiled = statistics.median(_compile_time(lib) for _ in range(runs))
        when = statistics.median(per_datum(lib, WHEN, when_variables, datums) for _ in range(runs))
        rule = statistics.median(per_datum(lib, RULE, rule_variables, datums) for _ in range(runs))
        print(
            f"| {lib.name} | {imported * 1e3:.0f} ms | {compiled * 1e6:.0f} µs | "
            f"{when * 1e6:.1f} µs ({when * datums:.2f} s) | "
            f"{rule * 1e6:.1f} µs ({rule * datums:.2f} s) |"
        )
    print()


def _compile_time(lib: Library) -> float:
    sources = [WHEN, RULE, *(c.source for c in CASES[:10])]
    start = time.process_time()
    for source in sources:
        lib.compile(source)
    return (time.process_time() - start) / len(sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datums", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    libs = libraries()
    correctness([lib for lib in libs if not isinstance(lib, KiteCel)])
    speed(libs, args.datums, args.runs)


if __name__ == "__main__":
    main()
