"""A run's records: ``manifest.csv`` (one row per planned output) and ``expander.json`` (the run summary).

Rows follow plan order, never completion order, so the manifest is byte-identical whatever
the worker count; they are rebuilt from the plan and the workers' results (``records``), so the
main process holds nothing per output but 40 bytes of checksum. Each written file's size and
SHA-256 are recorded, so ``verify`` can find any changed byte. Both files are written atomically.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from expander.dataset import Dataset
from expander.errors import DISTRIBUTION
from expander.images import TEMP_SUFFIX
from expander.plan import Plan, PlanRow
from expander.storage import Store, as_store

MANIFEST_NAME = "manifest.csv"
SUMMARY_NAME = "expander.json"
MANIFEST_COLUMNS = (
    "output", "source", "class", "split", "copy", "seed", "status", "error", "partner", "bytes", "sha256",
    "labels", "labels_sha256", "objects", "shard",
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
    status: str  # "ok", "failed", or "empty" (a labelled copy whose objects all left the image: not written)
    error: str = ""
    partner: str = ""  # the second source of a two-image generator's output
    size: int | None = None  # bytes and SHA-256 (hex) of the written file
    sha256: str = ""
    labels: str = ""  # a labelled dataset's: the output's label file, its SHA-256, and the objects in it
    labels_sha256: str = ""
    objects: int | None = None
    shard: str = ""  # a sharded run's: the shard file and member, "train/shard-000000.tar#000000012.jpg"


class WrittenJob(Protocol):
    """What ``records`` needs of a finished job's result (``execute.JobResult``)."""

    def digest(self, position: int) -> tuple[int, str] | None: ...

    def label_digest(self, position: int) -> tuple[str, int] | None: ...


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in blocks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def write_manifest(dst: Path | Store, records: Iterable[Record]) -> None:
    """Stream rows to a temporary file, then move it into place (a rename, or one upload to an object store):
    memory stays flat however many outputs there are."""
    store = as_store(dst)
    tmp = store.temp_dir() / f".{MANIFEST_NAME}.{os.getpid()}{TEMP_SUFFIX}"
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(MANIFEST_COLUMNS)
            for r in records:
                copy = "original" if r.copy_index is None else r.copy_index
                seed = "" if r.seed is None else r.seed
                size = "" if r.size is None else r.size
                objects = "" if r.objects is None else r.objects
                row = [r.output, r.source, r.class_name, r.split or "", copy, seed, r.status, r.error, r.partner,
                       size, r.sha256, r.labels, r.labels_sha256, objects, r.shard]  # fmt: skip
                writer.writerow(row)
        store.put_file(tmp, MANIFEST_NAME)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_manifest(dst: Path | Store) -> list[dict[str, str]]:
    text = as_store(dst).read(MANIFEST_NAME).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def write_summary(dst: Path | Store, summary: dict[str, Any], name: str = SUMMARY_NAME) -> None:
    as_store(dst).write(name, (json.dumps(summary, indent=2) + "\n").encode("utf-8"))


def package_versions(*packages: str) -> dict[str, str]:
    """Python's and the named packages' versions, for run summaries and reports (looked up once per process)."""
    return dict(_versions(packages))


@functools.cache
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    import platform

    from expander.versions import installed_version

    found = [("python", platform.python_version())]
    for package in packages:
        version = installed_version(DISTRIBUTION if package == "expander" else package)
        found.append((package, version or "not installed"))
    return tuple(found)


def read_summary(dst: Path | Store) -> dict[str, Any] | None:
    try:
        summary = json.loads(as_store(dst).read(SUMMARY_NAME).decode("utf-8"))
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


def records(
    plan: Plan,
    finished: Mapping[str, WrittenJob],
    failed: Mapping[str, Record],
    dst: Path | Store | None,
    label_format: str | None = None,
    label_root: Path | Store | None = None,
    located: Mapping[str, tuple[str, int, str]] | None = None,
) -> Iterator[Record]:
    """Manifest rows in plan order: failures as recorded, written outputs rebuilt from the plan.

    Sizes and checksums come from the workers; outputs found on disk (resumed) are hashed here. With
    ``label_format`` (a labelled dataset) each row also names its label file; the label files of outputs found
    on disk are read from ``label_root`` (default ``dst``) for their checksum and objects. In a sharded run
    ``located`` says where each output went (shard member, size, SHA-256); an output not in it is not on disk.
    """
    for job in plan.jobs:
        result = finished.get(job.source)
        if result is None and not job.done:
            continue  # nothing of it attempted yet
        position = 0
        for o in job.outputs:
            done = (o.copy_index or 0) in job.done
            if o.rel_path in failed:
                yield failed[o.rel_path]
            elif located is not None:  # sharded: it is on disk exactly when a shard holds it
                position += not done
                if o.rel_path in located:
                    member, length, checksum = located[o.rel_path]
                    yield Record(o.rel_path, job.source, job.class_name, job.split, o.copy_index, o.seed, "ok",
                                 size=length, sha256=checksum, shard=member)  # fmt: skip
            elif done or result is not None:
                digest = result.digest(position) if result is not None and not done else None
                if digest is None and dst is not None:
                    try:
                        digest = _digest_on(dst, o.rel_path)
                    except OSError:
                        position += not done
                        continue  # gone since it was found (someone deleted it): not listed, --resume rewrites it
                size, sha = digest or (None, "")
                record = Record(o.rel_path, job.source, job.class_name, job.split, o.copy_index, o.seed, "ok",
                                partner=o.partner or "", size=size, sha256=sha)  # fmt: skip
                if label_format is not None:
                    fresh = result.label_digest(position) if result is not None and not done else None
                    record = _with_labels(record, label_format, job, fresh, label_root or dst)
                yield record
            position += not done


def _digest_on(dst: Path | Store, rel: str) -> tuple[int, str]:
    """(size, SHA-256) of an output found in the output folder or store."""
    if isinstance(dst, Path):
        return file_digest(dst / rel)
    data = dst.read(rel)
    return len(data), hashlib.sha256(data).hexdigest()


def _with_labels(record: Record, label_format: str, job, fresh: tuple[str, int] | None, dst: Path | Store | None):
    """A row with its label file: checksum and object count from the worker, or read from disk when resumed."""
    from expander.labels.worker import count_objects, label_path

    path = label_path(label_format, job, record.output) or ""
    objects: int | None
    if fresh is not None:
        sha, objects = fresh
    else:  # found on disk (resumed): an original's label is its source's; a copy's is counted below
        sha, objects = "", (job.objects.count if job.objects is not None else 0) if record.copy_index is None else None
        if path and dst is not None:
            try:
                data = as_store(dst).read(path)
            except OSError:
                data = None
            if data is not None:  # an original's count stays its usable objects, as when it was written
                sha = hashlib.sha256(data).hexdigest()
                objects = objects if record.copy_index is None else count_objects(label_format, data)
    return dataclasses.replace(record, labels=path if sha else "", labels_sha256=sha, objects=objects)


def run_summary(
    dataset: Dataset,
    plan: Plan,
    arguments: dict,
    pipeline: dict,
    status: str,
    records: Iterable[Record],
    resumed: int,
    elapsed: float,
) -> dict[str, Any]:
    failed_sources: dict[str, str] = {}
    counts = {(row.split, row.class_name): {"originals": 0, "new": 0, "failed": 0} for row in plan.rows}
    written = failed_outputs = empty = 0
    objects = {"written": 0, "in_copies": 0, "carried": 0}
    in_source = {job.source: job.objects.count for job in plan.jobs if job.objects is not None}
    for r in records:  # a single pass: records may be a generator
        bucket = counts.setdefault((r.split, r.class_name), {"originals": 0, "new": 0, "failed": 0})
        if r.status == "ok":
            bucket["originals" if r.copy_index is None else "new"] += 1
            written += 1
            objects["written"] += r.objects or 0
            if r.copy_index is not None:
                objects["in_copies"] += r.objects or 0
                objects["carried"] += in_source.get(r.source, 0)
        elif r.status == "empty":
            empty += 1
        else:
            bucket["failed"] += 1
            failed_outputs += 1
            failed_sources.setdefault(r.source, r.error)
    for shown, reason in dataset.rejected:  # files the scan could not take (e.g. a name that is not UTF-8)
        failed_sources.setdefault(shown, reason)
    return {
        "schema": SUMMARY_SCHEMA,
        "status": status,
        "source": arguments["source"],
        "out": arguments["out"],
        "arguments": arguments,
        "pipeline": pipeline,
        "versions": package_versions("expander", "albumentations", "opencv-python-headless", "numpy"),
        "plan": [plan_row(row) for row in plan.rows],
        "counts": [
            {"split": split, "class": cls, **c, "total": c["originals"] + c["new"]}
            for (split, cls), c in counts.items()
        ],
        "totals": {
            "planned": plan.outputs,
            "written": written,
            "resumed": resumed,
            "failed_outputs": failed_outputs,
            "failed_sources": len(failed_sources),
            "empty_copies": empty,
        },
        "failures": [{"source": s, "error": e} for s, e in failed_sources.items()],
        "ignored": dataset.ignored,
        "excluded": list(dataset.excluded),
        "labels": _labels_summary(dataset, objects),
        "duration_s": round(elapsed, 3),
        "images_per_s": round((written - resumed) / elapsed, 1) if elapsed > 0 else None,
        "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _labels_summary(dataset: Dataset, objects: dict[str, int]) -> dict[str, Any] | None:
    """A labelled run's format, classes, objects written and dropped, and the label problems found reading."""
    labels = dataset.labels
    if labels is None:
        return None
    from expander.labels.objects import problems

    return {
        "format": labels.format,
        "classes": list(labels.names),
        "class_masks": bool(labels.details.get("class_masks")),
        "objects_written": objects["written"],
        # A copy holds its source's objects less those that left the image or fell below --min-visibility,
        # plus the mirror images a reflecting border brought in.
        "objects_in_copies": objects["in_copies"],
        "objects_in_copies_sources": objects["carried"],
        "problems": problems(dataset.items),
        "labels_without_images": list(labels.orphans),
    }


def plan_row(row: PlanRow) -> dict[str, Any]:
    return {
        "split": row.split,
        "class": row.class_name,
        "originals": row.originals,
        "new": row.new,
        "total": row.total,
        "augmented": row.augmented,
        "unit": row.unit,
    }
