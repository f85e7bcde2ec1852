"""Where things are written in a YAML file: 1-based line and column of keys, values and
characters inside scalars, for error messages that point at the exact spot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitecli.errors import Diagnostic

PathT = tuple[str | int, ...]


class Locator:
    """Positions (1-based) of keys and values in a ruamel.yaml round-trip document."""

    def __init__(self, root: Any, file: str, lines: Sequence[str] = ()) -> None:
        self.root = root
        self.file = file
        self.lines = lines  # the file's text, to place a column inside a scalar

    def at(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Where the node at `path` is: its key for a collection, else its value."""
        line, col = 0, 0
        node = self.root
        for step in path:
            lc = getattr(node, "lc", None)
            try:
                child = node[step]
            except (KeyError, IndexError, TypeError):
                break
            if lc is not None:
                if isinstance(step, int):
                    line, col = lc.item(step)
                elif hasattr(child, "lc"):
                    line, col = lc.key(step)
                else:
                    line, col = lc.value(step)
            node = child
        return line + 1, col + 1

    def key(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Where the key that ends `path` is written."""
        if not path:
            return 1, 1
        parent = self.root
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                return self.at(path)
        lc = getattr(parent, "lc", None)
        if lc is None or isinstance(path[-1], int) or path[-1] not in parent:
            return self.at(path)
        line, col = lc.key(path[-1])
        return line + 1, col + 1

    def inside(self, path: Sequence[str | int], offset: int) -> tuple[int, int]:
        """Where character `offset` of the string at `path` is written in the file.

        Exact for plain and quoted scalars on one line and for `|` blocks; anywhere else
        (escapes, folded or wrapped scalars) it falls back to where the scalar starts.
        """
        line, col = self.at(path)
        node = self._node(path)
        if not isinstance(node, str) or not self.lines:
            return line, col
        style = getattr(node, "style", None)
        if style == "|":
            return self._in_block(line, str(node), offset) or (line, col)
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        start = col - 1 + (1 if text[col - 1 : col] in ('"', "'") else 0)
        if text[start : start + len(node)] == node:
            return line, start + min(offset, len(node)) + 1
        return line, col

    def _in_block(self, line: int, value: str, offset: int) -> tuple[int, int] | None:
        """Position of `offset` in a literal block whose indicator is on `line`."""
        before = value[:offset].split("\n")
        number = line + len(before)  # the block's content starts on the next line
        content = [t for t in self.lines[line:] if t.strip()]
        if not content or number > len(self.lines):
            return None
        indent = len(content[0]) - len(content[0].lstrip(" "))
        expected = value.split("\n")[len(before) - 1]
        if self.lines[number - 1][indent:] != expected:
            return None
        return number, indent + len(before[-1]) + 1

    def _node(self, path: Sequence[str | int]) -> Any:
        node = self.root
        for step in path:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def diag(
        self, path: Sequence[str | int], message: str, hint: str | None = None, *, key: bool = False
    ) -> Diagnostic:
        line, col = self.key(path) if key else self.at(path)
        return Diagnostic(self.file, line, col, message, hint)
