"""Records -> ``manifest.csv`` (one row per planned output) and ``expander.json`` (the run summary).

Rows follow plan order, never completion order, so the manifest is byte-identical whatever
the worker count. Each written file's size and SHA-256 are recorded, so ``verify`` can find any
changed byte. Both files are written atomically.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expander.images import TEMP_SUFFIX, write_atomic

MANIFEST_NAME = "manifest.csv"
SUMMARY_NAME = "expander.json"
MANIFEST_COLUMNS = (
    "output", "source", "class", "split", "copy", "seed", "status", "error", "partner", "bytes", "sha256",
)  # fmt: skip
# expander.json carries this; --overwrite deletes only what a summary of this schema (or an older
# expander's, which has none) lists, and refuses one it does not recognise.
SUMMARY_SCHEMA = 1


@dataclass(frozen=True)
class Record:
    """What happened to one planned output (a manifest row)."""

    output: str
    source: str
    class_name: str
    split: str | None
    copy_index: int | None
    seed: int | None
    status: str  # "ok" or "failed"
    error: str = ""
    partner: str = ""  # the second source of a two-image generator's output
    size: int | None = None  # bytes and SHA-256 (hex) of the written file
    sha256: str = ""


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in blocks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def write_manifest(dst: Path, records: Iterable[Record]) -> None:
    """Stream rows to a temporary file, then rename: memory stays flat however many outputs there are."""
    path = dst / MANIFEST_NAME
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(MANIFEST_COLUMNS)
            for r in records:
                copy = "original" if r.copy_index is None else r.copy_index
                seed = "" if r.seed is None else r.seed
                size = "" if r.size is None else r.size
                row = [r.output, r.source, r.class_name, r.split or "", copy, seed, r.status, r.error, r.partner,
                       size, r.sha256]  # fmt: skip
                writer.writerow(row)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_manifest(dst: Path) -> list[dict[str, str]]:
    with open(dst / MANIFEST_NAME, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_summary(dst: Path, summary: dict[str, Any]) -> None:
    write_atomic(dst / SUMMARY_NAME, (json.dumps(summary, indent=2) + "\n").encode("utf-8"))


def package_versions(*packages: str) -> dict[str, str]:
    """Python's and the named packages' versions, for run summaries and reports."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def read_summary(dst: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads((dst / SUMMARY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def summary_problem(summary: dict[str, Any] | None) -> str:
    """Why a summary is not one of ours ("" when it is): what --overwrite and --resume rely on."""
    if summary is None:
        return f"it has no readable {SUMMARY_NAME}, so it was not written by expander"
    schema = summary.get("schema")
    versions = summary.get("versions")
    if not isinstance(versions, dict) or "expander" not in versions or not isinstance(summary.get("arguments"), dict):
        return f"its {SUMMARY_NAME} was not written by expander (it has no arguments or expander version)"
    if schema is not None and schema != SUMMARY_SCHEMA:
        return f"its {SUMMARY_NAME} has schema {schema!r}, which this expander (schema {SUMMARY_SCHEMA}) does not know"
    return ""
