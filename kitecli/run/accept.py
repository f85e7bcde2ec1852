"""Acceptance gates: check one datum's outputs before they are merged; quarantine a rejection.

`accept:` on an output (docs/expressions.md): `min_files`, `max_files`, `max_bytes`, `rules` (CEL
over `files`, `count`, `bytes`, with `params`, `env` and `datum`) are pure checks of the
output's manifest; `json_schema` reads the output files; `command` runs a validator. The
runner calls `check_datum` after a datum's outputs are ingested and before anything is
merged, and `quarantine` for a rejected one. Checks run cheapest first; the first that
fails is the rejection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitecli.history.state import key_id
from kitecli.scan.hashing import utf8
from kitecli.scan.manifest import FileEntry
from kitecli.spec import expr, templates
from kitecli.spec.model import Accept, Pipeline, Stage
from kitecli.store.blobs import CAS

SCHEMA_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml")
SHOWN_OUTPUT = 600  # characters of a validator's output kept in the rejection


@dataclass(frozen=True)
class Rejection:
    """Why a datum's output was refused: the output, the check that failed, and why."""

    output: str
    check: str  # min_files, max_files, max_bytes, rules[N], json_schema, command
    message: str

    def __str__(self) -> str:
        return f"output {self.output}: accept.{self.check}: {self.message}"


# -- the pure checks ----------------------------------------------------------------
def check_manifest(
    output: str,
    accept: Accept,
    files: Mapping[str, FileEntry],
    variables: Mapping[str, Any],
) -> Rejection | None:
    """min_files, max_files, max_bytes and rules over one output's files (relative paths)."""
    count = len(files)
    total = sum(entry.size for entry in files.values())
    if accept.min_files is not None and count < accept.min_files:
        return Rejection(
            output, "min_files", f"{_files(count)} written, at least {accept.min_files} required"
        )
    if accept.max_files is not None and count > accept.max_files:
        return Rejection(
            output, "max_files", f"{_files(count)} written, at most {accept.max_files} allowed"
        )
    if accept.max_bytes is not None and total > accept.max_bytes:
        return Rejection(
            output, "max_bytes", f"{total} bytes written, at most {accept.max_bytes} allowed"
        )
    if not accept.rules:
        return None
    seen = {
        **variables,
        "files": [
            {"path": path, "size": entry.size, "digest": entry.digest}
            for path, entry in sorted(files.items())
        ],
        "count": count,
        "bytes": total,
    }
    for index, rule in enumerate(accept.rules):
        try:
            held = expr.condition(rule, seen)
        except expr.ExprEvalError as exc:
            return Rejection(output, f"rules[{index}]", f"`{rule}` failed: {exc}")
        if not held:
            return Rejection(output, f"rules[{index}]", f"`{rule}` is false")
    return None


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


# -- every output must be written ---------------------------------------------------
def empty_output(stage: Stage, outputs: Mapping[str, Mapping[str, FileEntry]]) -> str | None:
    """The first output of the stage its command left without a file, unless it may be
    empty (`optional: true`, `accept: {min_files: 0}`); None: each has files."""
    for out in stage.outputs:
        if not outputs.get(out.name) and not out.may_be_empty:
            return out.name
    return None


def empty_reason(output: str, strays: list[str], count: int) -> str:
    """Why an attempt whose command exited 0 failed: `output` is empty; `strays` (`count`
    in all) are files it wrote into its input views instead."""
    target = f"{{{{ outputs.{output} }}}}"
    reason = f"output '{output}' is empty: the command wrote nothing into {target}"
    if not strays:
        return reason + " (declare it `optional: true` if it may stay empty)"
    more = f" and {count - len(strays)} more" if count > len(strays) else ""
    views = ", ".join(f"{{{{ inputs.{s.split('/', 1)[0]} }}}}/{s.split('/', 1)[1]}" for s in strays)
    return f"{reason}; it wrote into its input view instead ({views}{more}): write into {target}"


# -- checks that read files or run a validator ----------------------------------------
def check_schema(
    output: str, schema_path: Path, folder: Path, files: list[str]
) -> Rejection | None:
    """Every .json, .jsonl and .yaml file among `files` (under `folder`) fits the schema."""
    check = "json_schema"
    try:
        schema = _load_document(schema_path)
        validator = _validator(schema)
    except (OSError, ValueError) as exc:
        return Rejection(output, check, f"cannot use the schema {schema_path.name}: {exc}")
    failures: list[str] = []
    for rel in files:
        if not rel.lower().endswith(SCHEMA_SUFFIXES):
            continue
        try:
            for where, document in _documents(folder / rel):
                errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
                failures += [f"{rel}{where}{_pointer(e)}: {e.message}" for e in errors[:1]]
        except (OSError, ValueError) as exc:
            failures.append(f"{rel}: cannot be read: {exc}")
    if not failures:
        return None
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return Rejection(output, check, f"{failures[0]}{more}")


def _validator(schema: Any) -> Any:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
    return cls(schema)


def _pointer(error: Any) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f" at ${path}" if path else ""


def _load_document(path: Path) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        documents = [doc for _, doc in _documents(path)]
        return documents[0] if documents else None
    return json.loads(path.read_text(encoding="utf-8"))


def _documents(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, document) of each document in a .json, .jsonl or .yaml file."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        yield "", json.loads(text)
    elif suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield f" line {number}", json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"line {number}: {exc}") from exc
    else:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            documents = list(YAML(typ="safe", pure=True).load_all(text))
        except YAMLError as exc:
            raise ValueError(" ".join(str(exc).split())) from exc
        for index, document in enumerate(documents):
            yield (f" document {index + 1}" if len(documents) > 1 else ""), document


def run_validator(
    output: str,
    command: tuple[str, ...],
    *,
    folder: Path,
    names: Mapping[str, str],
    cwd: Path,
    environ: Mapping[str, str],
    timeout: float | None = None,
) -> Rejection | None:
    """Run the validator on the output's folder (appended unless it names an output)."""
    argv = validator_argv(command, output=output, folder=folder, names=names)
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env={**os.environ, **environ},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Rejection(output, "command", f"`{' '.join(argv)}` could not run: {exc}")
    if done.returncode == 0:
        return None
    said = (done.stdout + done.stderr).decode(errors="replace").strip()
    if len(said) > SHOWN_OUTPUT:
        said = "..." + said[-SHOWN_OUTPUT:]
    return Rejection(
        output,
        "command",
        f"`{command[0]}` exited {done.returncode}" + (f": {said}" if said else ""),
    )


def validator_argv(
    command: tuple[str, ...], *, output: str, folder: Path, names: Mapping[str, str]
) -> list[str]:
    """The validator's argv: names substituted (each item stays one argument), and the
    output folder appended as the last argument unless an item uses `{{ outputs.NAME }}`."""
    values = {**names, f"outputs.{output}": str(folder)}
    argv = [templates.render(item, values) for item in command]
    uses_output = any(
        (ref.name or "").startswith("outputs.")
        for item in command
        for ref in templates.references(item)
    )
    return argv if uses_output else [*argv, str(folder)]


# -- one datum ----------------------------------------------------------------------
@dataclass(frozen=True)
class Datum:
    """What the checks of one datum read."""

    stage: Stage
    key: Mapping[str, str]
    outputs: Mapping[str, Mapping[str, FileEntry]]  # output name → relative path → entry
    folders: Mapping[str, Path]  # output name → its scratch folder (files still there if
    # the stage `reads_files`)
    names: Mapping[str, str]  # template names, as for the stage's command
    environ: Mapping[str, str]  # KITE_* variables, as for the stage's command
    variables: Mapping[str, Any]  # params, env, datum for rules

    @classmethod
    def of(
        cls,
        pipeline: Pipeline,
        stage: Stage,
        key: Mapping[str, str],
        env: str,
        outputs: Mapping[str, Mapping[str, FileEntry]],
        folders: Mapping[str, Path],
        names: Mapping[str, str],
    ) -> Datum:
        """What the checks of a datum that just ran read (`names` as for its command)."""
        from kitecli.run import views
        from kitecli.spec.patterns import datum_fields

        params = views.param_values(pipeline, stage)
        variables = {"params": params, "env": env, "datum": datum_fields(key)}
        environ = views.environ(stage, names)
        return cls(stage, key, outputs, folders, names, environ, variables)


def check_datum(datum: Datum, *, root: Path) -> Rejection | None:
    """The first check a datum's outputs fail, cheapest checks first; None: accepted."""
    gates = [(o.name, o.accept) for o in datum.stage.outputs if o.accept is not None]
    for name, gate in gates:
        found = check_manifest(name, gate, datum.outputs.get(name, {}), datum.variables)
        if found is not None:
            return found
    for name, gate in gates:
        folder = datum.folders[name]
        if gate.json_schema:
            files = sorted(datum.outputs.get(name, {}))
            found = check_schema(name, root / gate.json_schema, folder, files)
            if found is not None:
                return found
        if gate.command:
            found = run_validator(
                name,
                gate.command,
                folder=folder,
                names=datum.names,
                cwd=root,
                environ=datum.environ,
                timeout=datum.stage.timeout,
            )
            if found is not None:
                return found
    return None


def gate(datum: Datum, *, root: Path, run_id: str, store: CAS) -> str | None:
    """Check a datum's outputs; when they are rejected, quarantine them under
    `.kite/quarantine/RUN/STAGE/DATUM/` and return the reason the run record keeps."""
    rejection = check_datum(datum, root=root)
    if rejection is None:
        return None
    folder = re.sub(r"[^A-Za-z0-9._=,+\[\]-]", "_", datum.stage.name)
    dest = root / ".kite" / "quarantine" / run_id / folder / datum_slug(datum.key)
    quarantine(datum, rejection, dest=dest, store=store)
    return f"{rejection} (outputs kept in {dest.relative_to(root)}/)"


def datum_slug(key: Mapping[str, str]) -> str:
    """A readable folder name for a datum: `day=2024-01-02` (`all` for the whole input)."""
    text = re.sub(r"[^A-Za-z0-9._=,+-]", "_", key_id(key)) or "all"
    if len(text) > 120:
        from kitecli.scan.hashing import digest_bytes

        text = text[:100] + "-" + digest_bytes(utf8(key_id(key)))[3:15]
    return text


def quarantine(datum: Datum, rejection: Rejection, *, dest: Path, store: CAS) -> Path:
    """Move (or, when the store took them, materialise) the datum's outputs into `dest`,
    one folder per output, with `rejected.json` saying why; returns `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name, files in datum.outputs.items():
        scratch, target = datum.folders[name], dest / name
        for rel, entry in files.items():
            here, there = scratch / rel, target / rel
            there.parent.mkdir(parents=True, exist_ok=True)
            if here.is_file() and not here.is_symlink():
                os.replace(here, there)
            else:
                store.materialize(entry.digest, there)
    record = {
        "stage": datum.stage.name,
        "datum": dict(datum.key),
        "output": rejection.output,
        "check": rejection.check,
        "message": rejection.message,
    }
    (dest / "rejected.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return dest
