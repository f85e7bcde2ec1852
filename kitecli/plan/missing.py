"""Input folders that are not there: a mistyped path is an error, not "nothing to do".

An input is missing when its path is neither a folder nor a file of the scanned data
root, no stage of the pipeline writes there (an upstream output appears only once that
stage ran), and the input is not `optional: true`. Planning stops before anything is
decided, so a typo never plans the deletion of what the right path made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from kitecli.errors import ProjectError
from kitecli.scan.manifest import Manifest
from kitecli.spec.graph import overlaps
from kitecli.spec.model import Input, Pipeline

_FIX = "fix the path in pipeline.yaml, or mark an input that may be absent `optional: true`"


def check_inputs(
    pipeline: Pipeline,
    names: Sequence[str],
    data: Manifest,
    *,
    closest: Callable[[str], str | None] = lambda path: None,
) -> None:
    """Raise ProjectError naming every missing input of the stages `names`, each at its
    line:col in pipeline.yaml, with the folder `closest(path)` says exists near it."""
    written = [o.path for s in pipeline.stages.values() for o in s.outputs]
    problems: list[str] = []
    hints: list[str] = []
    seen: set[tuple[str, str]] = set()
    for name in names:
        stage = pipeline.stages[name]
        for inp in stage.inputs:
            if (stage.base, inp.name) in seen or _there(inp, data, written):
                continue
            seen.add((stage.base, inp.name))
            problems.append(f"{inp.at}: stage {stage.base}: input {inp.name}: no {inp.path}/")
            close = closest(inp.path)
            if close is not None:
                hints.append(f"did you mean {close}/?")
    if not problems:
        return
    noun = "input is" if len(problems) == 1 else "inputs are"
    raise ProjectError(
        f"{len(problems)} {noun} missing from the data root\n  " + "\n  ".join(problems),
        hint=" ".join(
            [*dict.fromkeys(hints), _FIX if not hints else _FIX.replace("fix", "else fix")]
        ),
    )


def _there(inp: Input, data: Manifest, written: Iterable[str]) -> bool:
    if inp.optional or inp.path in ("", ".") or inp.path in data.trees:
        return True
    if inp.path in data.files:
        return True
    return any(overlaps(inp.path, out) for out in written)
