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
import io
import json
import os
import platform
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expander.dataset import AUGMENTED_SPLIT, MANIFEST_NAME, SUMMARY_NAME, Dataset
from expander.errors import DISTRIBUTION
from expander.images import TEMP_SUFFIX
from expander.inventory import inventory_summary
from expander.labels import registry
from expander.plan import Plan, PlanRow
from expander.sinks.base import Stored
from expander.storage import Store, as_store
from expander.versions import installed_version

if TYPE_CHECKING:
    from expander.execute import JobResult
    from expander.sinks.base import LabelFiles, Sink

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
    labels: str = ""  # a labelled dataset's: the output's label files and their SHA-256s (";" between), its objects
    labels_sha256: str = ""
    objects: int | None = None
    shard: str = ""  # a sharded run's: the shard file and sample key, "train/shard-000000.tar#000000012"
    object_classes: tuple[tuple[int, int], ...] = dataclasses.field(default=(), compare=False)  # not a column


def write_manifest(dst: Path | Store, records: Iterable[Record]) -> None:
    """Stream rows to a temporary file, then move it into place (a rename, or one upload to an object store):
    memory stays flat however many outputs there are."""
    store = as_store(dst)
    tmp = store.temp_dir() / f".{MANIFEST_NAME}.{os.getpid()}{TEMP_SUFFIX}"
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            # csv quotes a field holding a character of its line terminator (LF), not a lone CR, which a reader
            # takes for the end of a row: a row with one is written quoted whole.
            quoted = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(MANIFEST_COLUMNS)
            for r in records:
                copy = "original" if r.copy_index is None else r.copy_index
                seed = "" if r.seed is None else r.seed
                size = "" if r.size is None else r.size
                objects = "" if r.objects is None else r.objects
                row = [r.output, r.source, r.class_name, r.split or "", copy, seed, r.status, r.error, r.partner,
                       size, r.sha256, r.labels, r.labels_sha256, objects, r.shard]  # fmt: skip
                (quoted if any("\r" in str(v) for v in row) else writer).writerow(row)
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
    finished: Mapping[str, JobResult],
    failed: Mapping[str, Record],
    sink: Sink,
    labels: LabelFiles | None = None,
    look: bool = True,
) -> Iterator[Record]:
    """Manifest rows in plan order: failures as recorded, the other outputs as the sink holds them.

    What a worker wrote this run comes from its result; the sink completes it (a shard member) and answers
    for outputs written before (resumed, or left by a stopped run): a file sink hashes those unless ``look`` is
    False (then their size and checksum are left out, for counts).
    """
    for job in plan.jobs:
        result = finished.get(job.source)
        if result is None and not job.done:
            continue  # nothing of it attempted yet
        fresh = result.stored_by_copy() if result is not None else {}
        for o in job.outputs:
            copy = o.copy_index or 0
            if o.rel_path in failed:
                yield failed[o.rel_path]
                continue
            if copy not in fresh and copy not in job.done:
                continue
            stored = sink.stored(job, o.rel_path, fresh.get(copy), labels) if look else fresh.get(copy, _UNSEEN)
            if stored is None:
                continue  # gone since it was found, or not in a complete shard: --resume writes it again
            paths, shas = ";".join(p for p, _ in stored.labels), ";".join(s for _, s in stored.labels)
            objects = None if stored.objects is None else sum(n for _, n in stored.objects)
            yield Record(o.rel_path, job.source, job.class_name, job.split, o.copy_index, o.seed, "ok", "",
                         o.partner or "", stored.size, stored.sha256, paths, shas, objects, stored.member,
                         stored.objects or ())  # fmt: skip


_UNSEEN = Stored(None, "")  # an output written before this run, not looked at (counts only)


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
    """``expander.json``: what was asked, what was planned, and per split and class what the output holds.

    In a labelled dataset the classes are object classes: ``counts`` then counts the objects in the outputs'
    label files (with a row per split for the image files), and ``labels.targets`` says how far a quota got.
    """
    labelled = dataset.labels is not None
    failed_sources: dict[str, str] = {}
    counts: dict[tuple[str | None, str], dict[str, int]] = {}
    for row in plan.rows:
        if row.unit != "files":
            counts[(row.split, row.class_name)] = {"originals": 0, "new": 0, "failed": 0}
    written = failed_outputs = empty = 0
    objects = {"written": 0, "in_copies": 0, "carried": 0}
    in_source = {job.source: job.objects.count for job in plan.jobs if job.objects is not None}
    files: dict[str | None, dict[str, int]] = {}
    for r in records:  # a single pass: records may be a generator
        kind = "originals" if r.copy_index is None else "new"
        bucket = files.setdefault(r.split, {"originals": 0, "new": 0, "failed": 0}) if labelled else \
            counts.setdefault((r.split, r.class_name), {"originals": 0, "new": 0, "failed": 0})  # fmt: skip
        if r.status == "ok":
            bucket[kind] += 1
            written += 1
            objects["written"] += r.objects or 0
            if r.copy_index is not None:
                objects["in_copies"] += r.objects or 0
                objects["carried"] += in_source.get(r.source, 0)
            for class_index, n in r.object_classes:
                name = dataset.classes[class_index] if 0 <= class_index < len(dataset.classes) else str(class_index)
                counts.setdefault((r.split, name), {"originals": 0, "new": 0, "failed": 0})[kind] += n
        elif r.status == "empty":
            empty += 1
        else:
            bucket["failed"] += 1
            failed_outputs += 1
            failed_sources.setdefault(r.source, r.error)
    for shown, reason in dataset.rejected:  # files the scan could not take (e.g. a name that is not UTF-8)
        failed_sources.setdefault(shown, reason)
    unit = {"unit": "objects"} if labelled else {}
    rows = [{"split": split, "class": cls, **c, "total": c["originals"] + c["new"], **unit}
            for (split, cls), c in counts.items()]  # fmt: skip
    rows += [{"split": split, "class": "image files", **c, "total": c["originals"] + c["new"], "unit": "files"}
             for split, c in files.items()]  # fmt: skip
    return {
        "schema": SUMMARY_SCHEMA,
        "status": status,
        "source": arguments["source"],
        "out": arguments["out"],
        "arguments": arguments,
        "pipeline": pipeline,
        "versions": package_versions("expander", "albumentations", "opencv-python-headless", "numpy"),
        "plan": [plan_row(row) for row in plan.rows],
        "counts": rows,
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
        "inventory": inventory_summary(dataset, plan),
        "excluded": list(dataset.excluded),
        "labels": _labels_summary(dataset, plan, objects, rows),
        "duration_s": round(elapsed, 3),
        "images_per_s": round((written - resumed) / elapsed, 1) if elapsed > 0 else None,
        "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _labels_summary(dataset: Dataset, plan: Plan, objects: dict[str, int], rows: list[dict]) -> dict[str, Any] | None:
    """A labelled run's format, classes, objects written and dropped, how far a quota got, and the label
    problems found reading."""
    labels = dataset.labels
    if labels is None:
        return None

    return {
        "format": labels.format,
        "classes": list(labels.names),
        "class_masks": bool(labels.details.get("class_masks")),
        "settings": registry.get(labels.format).worker_settings(labels),  # what verify needs to read its files
        "objects_written": objects["written"],
        # A copy holds its source's objects less those that left the image or fell below --min-visibility,
        # plus the mirror images a reflecting border brought in.
        "objects_in_copies": objects["in_copies"],
        "objects_in_copies_sources": objects["carried"],
        "targets": _targets(plan, rows),
        "problems": [p for i in dataset.items if i.objects is not None for p in i.objects.problems],
        "skipped": [e for i in dataset.items if i.objects is not None for e in i.objects.errors] + list(labels.errors),
        "notes": list(labels.notes),
        "labels_without_images": list(labels.orphans),
    }


def _targets(plan: Plan, rows: list[dict]) -> list[dict[str, Any]]:
    """Per class a quota raises: its target, the objects the training split holds after the run, and why a
    class fell short (objects that left the image, or no training image that holds it)."""
    if plan.target is None:
        return []
    after = {
        r["class"]: r["total"] for r in rows if r["split"] in (None, AUGMENTED_SPLIT) and r.get("unit") == "objects"
    }
    found = []
    for row in plan.rows:
        if row.split not in (None, AUGMENTED_SPLIT) or row.unit != "objects":
            continue
        if row.class_name in plan.unreachable:
            reason = "no training image holds this class, so no copy can raise it"
            found.append({"class": row.class_name, "target": plan.target, "reached": row.originals,
                          "short": plan.target - row.originals, "reason": reason})  # fmt: skip
        elif row.augmented and row.new:
            reached = after.get(row.class_name, 0)
            short = max(0, plan.target - reached)
            lost = max(0, row.total - reached)
            reason = (f"{lost} of the {row.new} objects the copies were planned to hold left the image or fell below "
                      "--min-visibility" if short else "")  # fmt: skip
            found.append({"class": row.class_name, "target": plan.target, "reached": reached, "short": short,
                          "reason": reason})  # fmt: skip
    return found


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
