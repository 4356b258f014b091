"""Records -> ``manifest.csv`` (one row per planned output) and ``expander.json`` (the run summary).

Rows follow plan order, never completion order, so the manifest is byte-identical whatever
the worker count. Both files are written atomically.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from expander.execute import Record
from expander.images import TEMP_SUFFIX, write_atomic

MANIFEST_NAME = "manifest.csv"
SUMMARY_NAME = "expander.json"
MANIFEST_COLUMNS = ("output", "source", "class", "split", "copy", "seed", "status", "error", "partner")


def write_manifest(dst: Path, records: Iterable[Record]) -> None:
    """Stream rows to a temporary file, then rename: memory stays flat however many outputs there are."""
    path = dst / MANIFEST_NAME
    tmp = path.with_name(f".{path.name}{TEMP_SUFFIX}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(MANIFEST_COLUMNS)
            for r in records:
                copy = "original" if r.copy_index is None else r.copy_index
                seed = "" if r.seed is None else r.seed
                row = [r.output, r.source, r.class_name, r.split or "", copy, seed, r.status, r.error, r.partner]
                writer.writerow(row)
        os.replace(tmp, path)
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
        return json.loads((dst / SUMMARY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
