"""Outputs kite would place again from the store, checked before they are trusted."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from kitecli.plan.decide import DatumPlan
from kitecli.scan.manifest import FileEntry
from kitecli.store.blobs import CAS
from kitecli.store.roots import Root


def untrusted(
    datum: DatumPlan, *, placed: Mapping[str, FileEntry], root: Root, cas: CAS
) -> list[str]:
    """The outputs a restored or cached datum would place whose blob is missing or no
    longer hashes to its name (the store moves such a blob aside); outputs already on
    disk as recorded are not placed again and not read."""
    verified: dict[str, bool] = {}
    bad = []
    for path, entry in sorted(datum.outputs.items()):
        if placed.get(path) == entry and root.holds(path):
            continue
        if entry.digest not in verified:
            verified[entry.digest] = cas.verify(entry.digest)
        if not verified[entry.digest]:
            bad.append(path)
    return bad


def rerun(datum: DatumPlan, bad: Sequence[str]) -> tuple[DatumPlan, str]:
    """The datum to run again because the store no longer holds its outputs intact, and
    the line that says so."""
    why = [f"blob of {path} corrupt or missing in the store" for path in bad]
    more = f" (and {len(why) - 1} more)" if len(why) > 1 else ""
    replanned = dataclasses.replace(
        datum, action="run", reasons=(*datum.reasons, *why[:3]), outputs={}
    )
    return replanned, f"{why[0]}{more}; running it again"
