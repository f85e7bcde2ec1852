"""Whether a datum's inputs are complete (`ready:`): a datum whose marker is missing or
whose condition is false is `wait`, with the reason naming what it waits for. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kitecli.errors import KiteError
from kitecli.plan.datums import Datum
from kitecli.scan.manifest import FileEntry, Manifest
from kitecli.spec import expr
from kitecli.spec.inputs import FIELD
from kitecli.spec.model import Input, Stage
from kitecli.spec.patterns import datum_fields


class Readiness:
    """Tells, for one stage, what each datum still waits for (nothing: it is ready)."""

    def __init__(self, stage: Stage, data: Manifest) -> None:
        self.stage = stage
        self.data = data
        self.inputs = [i for i in stage.inputs if i.ready is not None]
        self._whole: dict[str, Mapping[str, FileEntry]] = {}

    def __bool__(self) -> bool:
        return bool(self.inputs)

    def waits_for(self, datum: Datum) -> list[str]:
        """What `datum` waits for: one reason per input that is not ready."""
        found: list[str] = []
        fields = datum_fields(datum.key)
        for inp in self.inputs:
            assert inp.ready is not None
            if inp.ready.marker is not None:
                marker = _join(
                    inp.path, FIELD.sub(lambda m: fields.get(m[1], m[0]), inp.ready.marker)
                )
                if marker not in self.data.files:
                    found.append(f"waiting for {marker}")
                    continue
            if inp.ready.when is not None and not self._holds(inp, inp.ready.when, datum, fields):
                found.append(
                    f"waiting: input {inp.name} is not ready (`{inp.ready.when}` is false)"
                )
        return found

    def _holds(self, inp: Input, when: str, datum: Datum, fields: dict[str, str]) -> bool:
        files = datum.files.get(inp.name) if inp.keyed else self._files_of(inp)
        files = files or {}
        variables: dict[str, Any] = {
            "files": len(files),
            "bytes": sum(e.size for e in files.values()),
            "names": sorted(files),
            "datum": fields,
        }
        try:
            return expr.condition(when, variables)
        except expr.ExprEvalError as exc:
            raise KiteError(
                f"{inp.at}: stage {self.stage.name}, input {inp.name}: `ready.when: {when}` "
                f"failed: {exc}",
                hint="`ready.when` sees files (a count), bytes, names (a list) and datum, "
                "e.g. files >= 24 && bytes > 0",
            ) from exc

    def _files_of(self, inp: Input) -> Mapping[str, FileEntry]:
        """The files of a whole-directory input, relative to it (computed once)."""
        if inp.name not in self._whole:
            prefix = "" if inp.path in ("", ".") else inp.path + "/"
            self._whole[inp.name] = {
                p[len(prefix) :]: e for p, e in self.data.files.items() if p.startswith(prefix)
            }
        return self._whole[inp.name]


def _join(folder: str, rel: str) -> str:
    return rel if folder in ("", ".") else f"{folder}/{rel}"
