"""The stage DAG: who reads whose output, cycles, order, selection, and drawings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kitecli.spec.model import Stage


def overlaps(a: str, b: str) -> bool:
    """True when two data paths are the same directory or one holds the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or "." in (a, b)


def dependencies(stages: Mapping[str, Stage]) -> dict[str, tuple[str, ...]]:
    """Stage → the stages whose outputs it reads, in declaration order."""
    deps: dict[str, tuple[str, ...]] = {}
    for name, stage in stages.items():
        deps[name] = tuple(
            other
            for other, producer in stages.items()
            if other != name
            and any(overlaps(i.path, o.path) for i in stage.inputs for o in producer.outputs)
        )
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
