"""The stage DAG: who reads whose output, cycles, order, selection, and drawings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from kitecli.spec.model import Stage

T = TypeVar("T")


def overlaps(a: str, b: str) -> bool:
    """True when two data paths are the same directory or one holds the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or "." in (a, b)


class PathIndex(Generic[T]):
    """Items by data path, each found by `overlapping` in time proportional to the depth of
    the path asked about and the hits (not to the number of items): 10,000 matrix stages
    are checked against each other in a moment, where comparing every pair took minutes."""

    def __init__(self) -> None:
        self._at: dict[str, list[tuple[int, T]]] = {}  # path → items there
        self._below: dict[str, list[tuple[int, T]]] = {}  # folder → items beneath it
        self._everywhere: list[tuple[int, T]] = []  # items at "." (the whole data root)
        self._all: list[tuple[int, T]] = []

    def add(self, path: str, item: T) -> None:
        entry = (len(self._all), item)
        self._all.append(entry)
        if path == ".":
            self._everywhere.append(entry)
            return
        self._at.setdefault(path, []).append(entry)
        parts = path.split("/")
        for depth in range(1, len(parts)):
            self._below.setdefault("/".join(parts[:depth]), []).append(entry)

    def overlapping(self, path: str) -> list[T]:
        """The items whose path `overlaps` `path`, in the order they were added."""
        if path == ".":
            return [item for _, item in self._all]
        parts = path.split("/")
        found = [*self._everywhere, *self._below.get(path, ())]
        for depth in range(1, len(parts) + 1):
            found += self._at.get("/".join(parts[:depth]), ())
        return [item for _, item in sorted(found, key=lambda entry: entry[0])]


def dependencies(stages: Mapping[str, Stage]) -> dict[str, tuple[str, ...]]:
    """Stage → the stages whose outputs it reads, in declaration order."""
    writers: PathIndex[str] = PathIndex()
    for name, stage in stages.items():
        for out in stage.outputs:
            writers.add(out.path, name)
    order = {name: index for index, name in enumerate(stages)}
    deps: dict[str, tuple[str, ...]] = {}
    for name, stage in stages.items():
        found = {other for i in stage.inputs for other in writers.overlapping(i.path)}
        deps[name] = tuple(sorted(found - {name}, key=order.__getitem__))
    return deps


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@dataclass(frozen=True)
class Graph:
    """Stages in an order where every stage comes after those it reads from."""

    order: tuple[str, ...]
    upstream: Mapping[str, tuple[str, ...]]
    downstream: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, stages: Mapping[str, Stage]) -> Graph:
        """Build the graph; the pipeline must have been checked for cycles."""
        deps = dependencies(stages)
        order: list[str] = []
        placed: set[str] = set()
        while len(order) < len(deps):
            ready = [n for n in deps if n not in placed and all(d in placed for d in deps[n])]
            if not ready:
                raise ValueError(f"dependency cycle: {' -> '.join(find_cycle(deps) or [])}")
            order.extend(ready)
            placed.update(ready)
        down = {n: tuple(m for m in deps if n in deps[m]) for n in deps}
        return cls(tuple(order), deps, down)

    def closure(self, names: Iterable[str], *, downstream: bool) -> tuple[str, ...]:
        """`names`, plus everything downstream of them when asked, in graph order."""
        chosen = set(names)
        if downstream:
            todo = list(chosen)
            while todo:
                for nxt in self.downstream[todo.pop()]:
                    if nxt not in chosen:
                        chosen.add(nxt)
                        todo.append(nxt)
        return tuple(n for n in self.order if n in chosen)


def draw(stages: Mapping[str, Stage], graph: Graph, fmt: str) -> str:
    """The graph as text, a Mermaid flowchart or Graphviz dot."""
    ids = {name: f"s{i}" for i, name in enumerate(graph.order)}
    edges = [(up, name) for name in graph.order for up in graph.upstream[name]]
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        lines += [f'  {ids[n]}["{n}"]' for n in graph.order]
        lines += [f"  {ids[a]} --> {ids[b]}" for a, b in edges]
    elif fmt == "dot":
        lines = ["digraph pipeline {", "  rankdir=LR;"]
        lines += [f'  {ids[n]} [label="{n}", shape=box];' for n in graph.order]
        lines += [f"  {ids[a]} -> {ids[b]};" for a, b in edges]
        lines.append("}")
    else:
        lines = []
        for name in graph.order:
            stage = stages[name]
            reads = ", ".join(i.path + "/" for i in stage.inputs) or "(source)"
            writes = ", ".join(o.path + "/" for o in stage.outputs)
            after = f"  after {', '.join(graph.upstream[name])}" if graph.upstream[name] else ""
            lines.append(f"{name}: {reads} -> {writes}{after}")
    return "\n".join(lines) + "\n"
