"""kitecli's shape (docs/architecture.md): packages in layers, each importing only from the
layers below it; no import cycle, lazy imports inside functions included; modules (450
lines) and functions (40, docstring aside) of a readable size."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kitecli"
# lowest first: a module may import from its own layer and the ones before it
LAYERS = ("errors", "scan", "spec", "store", "env", "history", "plan", "executors", "run", "cli")
TOP = ("kitecli.__main__",)  # the entry point, above every layer
BOTTOM = ("kitecli",)  # the package itself holds the version only, below every layer
MODULE_LINES = 450
FUNCTION_LINES = 40


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The kitecli modules `name` imports anywhere in its file (at the top or in a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, *([node.module] if node.module else [])])
            for alias in node.names:
                whole = f"{base}.{alias.name}"
                targets.add(whole if whole in known else base)
    return {t for t in targets if t in known and t != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def layer(name: str) -> int:
    if name in TOP:
        return len(LAYERS)
    if name in BOTTOM:
        return -1
    part = name.split(".")[1]
    assert part in LAYERS, f"{name} is in no layer: add its package to LAYERS and the docs"
    return LAYERS.index(part)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_walker_sees_lazy_imports_and_cycles() -> None:
    edges = graph()
    # kitecli.store opens its implementations only when called, inside the factories
    assert "kitecli.store.remote_cas" in edges["kitecli.store"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_no_layer_imports_a_higher_one() -> None:
    upward = [
        f"{name} -> {target}"
        for name, targets in sorted(graph().items())
        for target in sorted(targets)
        if layer(target) > layer(name)
    ]
    assert upward == [], "a lower layer imports a higher one:\n" + "\n".join(upward)


def test_modules_stay_readable() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MODULE_LINES
    }
    assert long == {}, f"modules over {MODULE_LINES} lines: split them"


def functions() -> Iterator[tuple[str, int]]:
    """Every function's qualified name and length in lines, its docstring left out."""
    for name, path in modules().items():
        yield from _functions(name, ast.parse(path.read_text()).body)


def _functions(prefix: str, body: list[ast.stmt]) -> Iterator[tuple[str, int]]:
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield from _functions(f"{prefix}.{node.name}", node.body)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0]
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            start = (first.end_lineno or first.lineno) + 1 if docstring else first.lineno
            yield f"{prefix}.{node.name}", (node.end_lineno or start) - start + 1


def test_functions_stay_readable() -> None:
    long = {name: n for name, n in functions() if n > FUNCTION_LINES}
    assert long == {}, f"functions over {FUNCTION_LINES} lines, docstring aside: split them"
