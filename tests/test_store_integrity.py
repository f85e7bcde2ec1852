"""The content store through the command line: a blob is used only while it hashes to its
name, so editing an output in place or overwriting a blob never leaves bad bytes in the data
folder, in the run cache or in the store; `kite fsck` names each corrupt blob."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from kitecli.scan.hashing import hash_file
from tests import helpers
from tests.e2e import calls, make_project

TOTAL = "data/total/all.txt"
CLEAN = "data/clean/2024-01-02.csv"


def kite(root: Path, *args: str) -> helpers.Result:
    return helpers.kite(*args, cwd=root, env={"CALLS_LOG": str(root / "calls.log")})


def apply(root: Path) -> helpers.Result:
    result = kite(root, "apply")
    assert result.code == 0, result.stderr
    return result


def blob_of(root: Path, digest: str) -> Path:
    hexa = digest.removeprefix("b3:")
    return root / "cache" / hexa[:2] / hexa[2:]


def append(path: Path, text: str) -> None:
    """What a user can do to a read-only file they own: make it writable, then edit it."""
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    with open(path, "a") as handle:
        handle.write(text)


def overwrite(path: Path, text: str) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    path.write_text(text)


def corrupt_blobs(root: Path) -> list[str]:
    """The blobs in the project's cache whose bytes no longer hash to their name."""
    found = []
    for folder in (root / "cache").iterdir():
        if len(folder.name) != 2:
            continue  # the quarantine, not the store
        for blob in folder.iterdir():
            digest = f"b3:{folder.name}{blob.name}"
            if hash_file(blob)[0] != digest:
                found.append(digest)
    return found


def test_an_output_edited_in_place_is_put_right_and_the_store_stays_intact(
    tmp_path: Path,
) -> None:
    make_project(tmp_path)
    apply(tmp_path)
    calls(tmp_path / "calls.log")
    good = hash_file(tmp_path / TOTAL)[0]
    append(tmp_path / TOTAL, "x\n")
    assert hash_file(blob_of(tmp_path, good))[0] == good  # the store did not change with it
    apply(tmp_path)
    assert (tmp_path / TOTAL).read_text() == "9\n"
    assert hash_file(blob_of(tmp_path, good))[0] == good
    assert corrupt_blobs(tmp_path) == []
    apply(tmp_path)  # and it stays put right: nothing to do
    assert (tmp_path / TOTAL).read_text() == "9\n"
    plan = kite(tmp_path, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.stdout + plan.stderr


def test_a_corrupt_blob_is_never_restored_and_fsck_names_it(tmp_path: Path) -> None:
    make_project(tmp_path)
    apply(tmp_path)
    calls(tmp_path / "calls.log")
    digest = hash_file(tmp_path / TOTAL)[0]
    blob = blob_of(tmp_path, digest)
    overwrite(blob, "overwritten\n")
    found = kite(tmp_path, "fsck")
    assert found.code == 1
    assert f"corrupt blob {digest} (used by total/total/all.txt)" in found.stdout
    assert "Traceback" not in found.stderr
    (tmp_path / TOTAL).unlink(missing_ok=True)  # to be restored from the store
    apply(tmp_path)
    assert [line.split()[0] for line in calls(tmp_path / "calls.log")] == ["total"]
    assert (tmp_path / TOTAL).read_text() == "9\n"
    assert hash_file(blob)[0] == digest
    assert list((tmp_path / "cache" / "quarantine").iterdir())  # moved aside, not deleted
    again = kite(tmp_path, "fsck")
    assert again.code == 0, again.stdout
    young = kite(tmp_path, "gc")  # within the grace period: kept for a post-mortem
    assert young.code == 0, young.stderr
    assert list((tmp_path / "cache" / "quarantine").iterdir())
    swept = kite(tmp_path, "gc", "--grace", "0")
    assert swept.code == 0, swept.stderr
    assert not (tmp_path / "cache" / "quarantine").exists()  # emptied, and its folder gone
    assert hash_file(blob)[0] == digest  # the good blob stays
    assert kite(tmp_path, "fsck").code == 0


def test_the_run_cache_never_serves_a_corrupt_blob(tmp_path: Path) -> None:
    make_project(tmp_path)
    raw = tmp_path / "data/raw/2024-01-02.csv"
    original = raw.read_text()
    apply(tmp_path)
    first = hash_file(tmp_path / CLEAN)[0]
    raw.write_text("changed\n")
    apply(tmp_path)
    calls(tmp_path / "calls.log")
    overwrite(blob_of(tmp_path, first), "OVERWRITTEN\n")  # what the run cache points at
    raw.write_text(original)
    apply(tmp_path)
    ran = calls(tmp_path / "calls.log")
    assert "clean 2024-01-02.csv" in ran  # run again, not taken from the run cache
    assert (tmp_path / CLEAN).read_text() == "DAY,2024-01-02\n"
    assert (tmp_path / TOTAL).read_text() == "9\n"
    assert corrupt_blobs(tmp_path) == []


def test_a_rerun_replaces_a_corrupt_blob_of_the_same_name(tmp_path: Path) -> None:
    make_project(tmp_path)
    apply(tmp_path)
    digest = hash_file(tmp_path / TOTAL)[0]
    overwrite(blob_of(tmp_path, digest), "overwritten\n")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("  total:\n", "  total:\n    version: 2\n"))
    apply(tmp_path)
    assert [line.split()[0] for line in calls(tmp_path / "calls.log")][-1] == "total"
    assert hash_file(blob_of(tmp_path, digest))[0] == digest
    assert (tmp_path / TOTAL).read_text() == "9\n"
    assert corrupt_blobs(tmp_path) == []


def test_an_edit_in_one_environment_never_reaches_another(tmp_path: Path) -> None:
    """Two environments sharing the metadata repo (so the run cache) and the content store:
    an output edited in place in one is not what the run cache gives the other."""
    make_project(tmp_path)
    pipeline = tmp_path / "pipeline.yaml"
    local = "dev: {data: ./data, metadata: ./meta, cache: ./cache}"
    both = local + "\n  prod: {data: ./prod, metadata: ./meta, cache: ./cache}"
    pipeline.write_text(pipeline.read_text().replace(local, both))
    shutil.copytree(tmp_path / "data/raw", tmp_path / "prod/raw")
    apply(tmp_path)
    good = (tmp_path / CLEAN).read_bytes()
    append(tmp_path / CLEAN, "EDITED\n")
    calls(tmp_path / "calls.log")
    prod = kite(tmp_path, "apply", "--env", "prod")
    assert prod.code == 0, prod.stderr
    assert calls(tmp_path / "calls.log") == []  # all of it from the run cache
    assert (tmp_path / "prod" / CLEAN.removeprefix("data/")).read_bytes() == good
    assert corrupt_blobs(tmp_path) == []
    apply(tmp_path)  # and dev's data is put right
    assert (tmp_path / CLEAN).read_bytes() == good
    assert kite(tmp_path, "fsck").code == 0
    assert kite(tmp_path, "fsck", "--env", "prod").code == 0


def test_an_output_inside_kites_own_state_is_refused_by_validate(tmp_path: Path) -> None:
    make_project(tmp_path)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("{total: total/}", "{total: ../meta/refs/}"))
    refused = kite(tmp_path, "validate")
    assert refused.code == 3, refused.stdout + refused.stderr
    assert re.search(r"pipeline\.yaml:\d+:\d+: .*leaves the data root", refused.stderr)
    assert "leaves the data root" in refused.stderr
    pipeline.write_text(
        pipeline.read_text()
        .replace("{total: ../meta/refs/}", "{total: .kite/meta/refs/}")
        .replace("data: ./data", "data: .")
        .replace("metadata: ./meta", "metadata: ./.kite/meta")
    )
    refused = kite(tmp_path, "validate")
    assert refused.code == 3, refused.stdout + refused.stderr
    assert re.search(
        r"pipeline\.yaml:\d+:\d+: output \.kite/meta/refs/ lies in the metadata repo of "
        "environment 'dev'",
        refused.stderr,
    ), refused.stderr
    assert not (tmp_path / ".kite/meta/refs").exists()
