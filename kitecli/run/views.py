"""A datum's working folder: input views (exactly its files), scratch outputs, argv."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kitecli.scan.manifest import FileEntry
from kitecli.spec import templates
from kitecli.spec.build import scalar_text
from kitecli.spec.model import Pipeline, Stage
from kitecli.spec.repeat import PREVIOUS
from kitecli.store import links

Files = Mapping[str, Mapping[str, FileEntry]]  # keyed input name → the datum's files


@dataclass(frozen=True)
class Workspace:
    """Where one datum's attempt reads and writes."""

    folder: Path
    inputs: Mapping[str, Path]  # input name → view directory
    outputs: Mapping[str, Path]  # output name → scratch directory

    @property
    def tmp(self) -> Path:
        """The command's `TMPDIR`, emptied with the rest of the folder."""
        return self.folder / "tmp"

    def file_list(self, name: str) -> Path:
        """The file that lists a keyed input's files, one path a line (`KITE_FILES_<NAME>`)."""
        return self.folder / "lists" / name


def env_name(name: str) -> str:
    """`raw-data` → `RAW_DATA`, for KITE_INPUT_RAW_DATA and friends."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class Source(Protocol):
    """Where input views come from: a data root (kitecli.store.roots: links on local disk,
    downloads from an object store)."""

    def view(self, folder: str, dest: Path, files: Mapping[str, FileEntry] | None) -> None: ...


def prepare(
    folder: Path,
    *,
    stage: Stage,
    data_root: Source,
    files: Mapping[str, Mapping[str, FileEntry]],
    read_from: Mapping[str, Path] | None = None,
    seen: Path | None = None,
    spare: Callable[[Path], bool] | None = None,
) -> Workspace:
    """Make the views and empty scratch outputs under `folder`, which starts empty: what an
    earlier attempt left there is removed first.

    `files` maps each keyed input's name to the datum's files (input-relative paths);
    an input missing from it is a whole directory, seen through one link. `read_from`
    maps an input directory to the data root it is read from when that is not `data_root`
    (another environment's, with `reads:`): such a view is a folder of this run holding
    one link per file, so a command cannot add files to a directory it does not own.
    Each keyed input's files are listed in `file_list`, as paths under `seen` (where the
    command sees `folder`; by default where it is). `spare(folder)`, when given, puts an
    emptied folder of an earlier datum (holding `skeleton`) there, if it has one.
    """
    if folder.exists():
        links.clear(folder)
    if spare is None or not spare(folder):
        folder.mkdir(parents=True)
    workspace = layout(folder, stage)
    for inp in stage.inputs:
        view = workspace.inputs[inp.name]
        other = (read_from or {}).get(inp.path)
        if other is None:
            data_root.view(inp.path, view, files.get(inp.name))
        elif inp.name in files:
            links.link_view(other / inp.path, view, files[inp.name])
        else:
            links.link_each(other / inp.path, view)
    for scratch in (*workspace.outputs.values(), workspace.tmp):
        scratch.mkdir(parents=True, exist_ok=True)
    for name, paths in listed(layout(seen or folder, stage), files).items():
        workspace.file_list(name).parent.mkdir(exist_ok=True)
        # names as their bytes (not UTF-8 ones too), as a tool reading the list expects
        workspace.file_list(name).write_bytes(b"".join(os.fsencode(p) + b"\n" for p in paths))
    return workspace


def skeleton(stage: Stage) -> set[str]:
    """The folders `prepare` makes in every working folder of `stage`, relative to it
    (inside `in/`, a view of a keyed input is made by each datum)."""
    found = {"in", "tmp"} | ({"lists"} if any(i.keyed for i in stage.inputs) else set())
    return found | ({"out"} | {f"out/{o.name}" for o in stage.outputs} if stage.outputs else set())


def listed(workspace: Workspace, files: Files) -> dict[str, list[str]]:
    """Each keyed input's files as the command sees them, in path order."""
    return {
        name: [str(workspace.inputs[name] / rel) for rel in sorted(found)]
        for name, found in files.items()
        if name in workspace.inputs
    }


def layout(folder: Path, stage: Stage) -> Workspace:
    """Where `prepare` puts a datum's input views and scratch outputs (nothing is created)."""
    return Workspace(
        folder,
        {inp.name: folder / "in" / inp.name for inp in stage.inputs},
        {out.name: folder / "out" / out.name for out in stage.outputs},
    )


def values(
    *,
    pipeline: Pipeline,
    stage: Stage,
    env: str,
    run_id: str,
    key: Mapping[str, str],
    workspace: Workspace,
    files: Files | None = None,
) -> dict[str, str]:
    """Every name a command may use, `{{ inputs.raw }}` → its text (`{{ inputs.x.files }}`:
    `listed`, expanded by `argv`)."""
    found: dict[str, str] = {"env": env, "run.id": run_id}
    found |= {f"inputs.{n}": str(p) for n, p in workspace.inputs.items()}
    if stage.repeat is not None and stage.inputs:  # what iteration k-1 wrote (k = 1: the input)
        found[PREVIOUS] = found[f"inputs.{stage.inputs[0].name}"]
    for name, paths in listed(workspace, files or {}).items():
        found[f"KITE_FILES_{env_name(name)}"] = str(workspace.file_list(name))
        if len(paths) == 1:
            found[f"inputs.{name}.file"] = paths[0]
    found |= {f"outputs.{n}": str(p) for n, p in workspace.outputs.items()}
    found |= {f"datum.{k}": v for k, v in key.items()}
    found |= {f"params.{k}": scalar_text(v) for k, v in param_values(pipeline, stage).items()}
    found |= {f"matrix.{k}": scalar_text(v) for k, v in stage.matrix.items()}
    return found


def param_values(pipeline: Pipeline, stage: Stage) -> dict[str, Any]:
    """The params a stage sees: the pipeline's, overridden by its matrix values."""
    return {**pipeline.params, **stage.matrix}


def argv(
    stage: Stage, names: Mapping[str, str], lists: Mapping[str, list[str]] | None = None
) -> tuple[str, ...]:
    """The command with every `{{ name }}` substituted; each item stays one argument, but
    for `{{ inputs.x.files }}`, which becomes one per file of `lists[x]` (`listed`)."""
    out: list[str] = []
    for item in stage.command:
        whole = templates.file_list(item)
        if whole is None:
            out.append(templates.render(item, names))
        else:
            out.extend((lists or {}).get(whole.split(".")[1], []))
    return tuple(out)


def environ(stage: Stage, names: Mapping[str, str], *, tmp: Path | None = None) -> dict[str, str]:
    """KITE_* variables (docs/expressions.md), `TMPDIR`, and the stage's own `env:`
    (rendered). `KITE_ENV` and `KITE_RUN_ID` are set only for a stage that names `{{ env }}`
    or `{{ run.id }}`: nothing else a command sees differs between runs or environments."""
    out: dict[str, str] = {"TMPDIR": str(tmp)} if tmp is not None else {}
    prefixes = {"inputs": "KITE_INPUT_", "outputs": "KITE_OUTPUT_", "datum": "KITE_DATUM_"}
    for name, value in names.items():
        space, _, rest = name.partition(".")
        if name.count(".") > 1:  # inputs.x.file: a name for commands only
            continue
        if space in prefixes:
            out[prefixes[space] + env_name(rest)] = value
        elif space == "params" and rest in stage.params:
            out["KITE_PARAM_" + env_name(rest)] = value
        elif name.startswith("KITE_FILES_"):
            out[name] = value
    used = referenced(stage)
    if "env" in used:
        out["KITE_ENV"] = names["env"]
    if "run.id" in used:
        out["KITE_RUN_ID"] = names["run.id"]
    out |= {k: templates.render(v, names) for k, v in stage.env.items()}
    return out


def referenced(stage: Stage) -> set[str]:
    """The names the stage's command and `env:` refer to."""
    texts = (*stage.command, *stage.env.values())
    return {r.name for text in texts for r in templates.references(text) if r.name}


def written_into_inputs(
    workspace: Workspace, stage: Stage, known: Mapping[str, object], *, limit: int = 3
) -> tuple[list[str], int]:
    """Files a command added to its input views, as `NAME/REL` (at most `limit` of them),
    and how many there are. A view holds links to the data (or, for a whole directory,
    is one link to it): a file there that is no link and not in `known` (the data root's
    files, by path) was written by the command."""
    found: list[str] = []
    count = 0
    for inp in stage.inputs:
        view = workspace.inputs.get(inp.name)
        if view is None or not view.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(view):
            for name in names:
                path = Path(dirpath, name)
                rel = path.relative_to(view).as_posix()
                if path.is_symlink() or f"{inp.path}/{rel}" in known:
                    continue
                count += 1
                if len(found) < limit:
                    found.append(f"{inp.name}/{rel}")
    return found, count
