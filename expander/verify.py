"""``expander verify``: is an expanded output intact and finished, and does it still reproduce?

The run itself: its summary must say it finished (``complete``) and count what the manifest lists. Every
output the manifest lists as written must be in the sink (a file, or a sample of a shard listed in
``shards.json``), match its recorded size and SHA-256 and decode, with its label files' SHA-256 and
contents valid for its format; nothing unlisted may sit beside them (a stray image, label file or shard).
A labelled output's dataset-level files (data.yaml, the COCO JSON, VOC's lists) must be what the run wrote and
what a training tool reads: the format checks them against the source. With ``replay``, a random sample of
outputs is made again from source + seed + pipeline (through the same ``Worker`` the run used) and compared
byte for byte, label files included.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from expander import images
from expander.errors import ExpanderError, OutputError
from expander.execute import Settings, Worker
from expander.labels import registry
from expander.labels import run as run_labels
from expander.labels.base import Written
from expander.limits import DEFAULT_MAX_PIXELS
from expander.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest, read_summary
from expander.plan import Job, Output
from expander.pool import process_pool
from expander.sinks import kind_of
from expander.sinks.base import Sample
from expander.sinks.shards import verify_shards
from expander.storage import Store, open_store, safe_relative

_BOOKKEEPING = {MANIFEST_NAME, SUMMARY_NAME, ".expander.lock", ".expander.reserve", "shards.json"}
PROBLEMS = ("run", "missing", "extra", "undecodable", "changed", "labels")


def verify(
    dst: str | Path, *, replay: int = 0, seed: int = 0, workers: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> dict:
    """Return {"ok", "checked", "run", "missing", "extra", "undecodable", "changed", "labels", "unsafe", "replayed",
    "checksums", "dst"}: each a list of what is wrong (see the module docstring).

    Raises:
        OutputError: ``dst`` is not an expander output (no summary), or its manifest cannot be read.
    """
    store = open_store(dst)
    summary, rows = _read(store)
    unsafe = sorted({r.get("output") or "" for r in rows if not safe_relative(r.get("output") or "")})
    rows = [r for r in rows if (r.get("output") or "") not in unsafe]
    label_set = run_labels.recorded(summary)
    if kind_of(summary) == "files":
        found = _verify_files(store, summary, rows, workers, max_pixels, label_set)
        written = functools.partial(_written, rows)
        found["labels"] += run_labels.dataset_file_problems(label_set, summary, written, store.read)
        samples: dict[str, Any] = {}
    else:
        found = verify_shards(store, rows, max_pixels)
        samples = found.pop("samples")
    found["run"] = _run_problems(summary, rows)
    found.setdefault("labels", [])
    replayed: list[str] = []
    if replay > 0:
        present = {r["output"] for r in rows} - set(found["missing"])
        candidates = [r for r in rows if r["output"] in present and (not samples or r.get("shard") in samples)]
        if "generator" in summary.get("pipeline", {}):
            # Replaying a model's output needs its worker setup (single-threaded TensorFlow); not done
            # here yet, so only the byte-for-byte originals of a generator run are replayed.
            candidates = [r for r in candidates if r.get("copy") == "original"]
        chosen = random.Random(seed).sample(candidates, min(replay, len(candidates)))
        changed, replayed = _replay(store, summary, chosen, _actual(store, samples), label_set)
        found["changed"] += changed
    return {
        "dst": store.location if store.remote else str(Path(store.location).resolve()),
        "ok": not (unsafe or any(found.get(k) for k in PROBLEMS)),
        "checked": len(rows),
        "checksums": all(r.get("sha256") for r in rows),
        "run": found["run"],
        "missing": found["missing"],
        "extra": found["extra"],
        "undecodable": found["undecodable"],
        "unsafe": unsafe,
        "replayed": replayed,
        "changed": found["changed"],
        "labels": found["labels"],
    }


def _read(dst: Store) -> tuple[dict, list[dict]]:
    """The summary and the manifest rows of written outputs."""
    summary = read_summary(dst)
    if summary is None:
        raise OutputError(
            f"'{dst.location}' has no readable {SUMMARY_NAME}: it is not an expander output (or not one yet)."
        )
    if not dst.exists(MANIFEST_NAME):
        raise OutputError(
            f"'{dst.location}' has {SUMMARY_NAME} (status {summary.get('status')!r}) but no {MANIFEST_NAME}: its run "
            "was stopped before it finished. Finish it with the same expander expand command and --resume."
        )
    try:
        manifest = read_manifest(dst)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise OutputError(f"'{dst.join(MANIFEST_NAME)}' cannot be read ({e}); it is damaged.") from None
    return summary, [r for r in manifest if r.get("status") == "ok"]


def _run_problems(summary: dict, rows: list[dict]) -> list[str]:
    """Did the run finish, and does its summary count what the manifest lists?"""
    problems = []
    status = summary.get("status")
    if status != "complete":
        problems.append(f"the run did not finish (status {status!r}): run the same command with --resume")
    totals = summary["totals"] if isinstance(summary.get("totals"), dict) else {}
    if totals.get("written") != len(rows):
        problems.append(
            f"{SUMMARY_NAME} counts {totals.get('written')} outputs written, {MANIFEST_NAME} lists {len(rows)}"
        )
    return problems


def _verify_files(store: Store, summary: dict, rows: list[dict], workers: int, max_pixels: int | None, labels) -> dict:
    """The checks of an output written as files (and label files): present, unchanged, decodable, no strays."""
    listed = {r["output"] for r in rows}
    on_disk = set(store.files())
    label_files = {p for r in rows for p in (r.get("labels") or "").split(";") if p}
    dataset_files = set((summary.get("labels") or {}).get("files") or []) if labels is not None else set()
    missing = sorted(listed - on_disk) + sorted((label_files | dataset_files) - on_disk)
    present = [r for r in rows if r["output"] in on_disk]
    tasks = [(store.location, r["output"], r.get("bytes") or "", r.get("sha256") or "", max_pixels,
              _label_task(r, labels)) for r in present]  # fmt: skip
    if workers > 1 and len(tasks) > 1:
        with process_pool(workers) as pool:
            checks = pool.map(_check_file, tasks, chunksize=32, lost=_lost_check)
    else:
        checks = [_check_file(t) for t in tasks]
    known = listed | label_files | dataset_files | _BOOKKEEPING
    extra = sorted(f for f in on_disk - known if not f.startswith(".") or f.endswith(images.TEMP_SUFFIX))
    return {
        "missing": missing,
        "extra": extra,
        "undecodable": [{"file": r["output"], "error": e} for r, (e, _, _) in zip(present, checks, strict=True) if e],
        "changed": [{"file": r["output"], "reason": c} for r, (_, c, _) in zip(present, checks, strict=True) if c],
        "labels": [{"file": r["output"], "reason": q} for r, (_, _, q) in zip(present, checks, strict=True) if q],
    }


def _written(rows: list[dict]) -> list[Written]:
    """The manifest's outputs as the format's dataset-level checks take them."""
    return [Written(r["output"], r["source"], r.get("split") or None, _label_paths(r)) for r in rows]


def _label_paths(row: dict) -> tuple[str, ...]:
    return tuple(p for p in (row.get("labels") or "").split(";") if p)


def _label_task(row: dict, labels) -> tuple | None:
    if labels is None or not row.get("labels"):
        return None
    paths = row["labels"].split(";")
    shas = (row.get("labels_sha256") or "").split(";")
    # An original's label files are the source's own, copied: their checksums are checked, not their contents
    # (the run summary and inspect report the source's problems).
    return labels, tuple(paths), tuple(shas), row.get("copy") != "original"


def _lost_check(task: tuple, reason: str) -> tuple[str, str, str]:
    return f"cannot check it: {reason}, twice", "", ""


def _check_file(task: tuple) -> tuple[str, str, str]:
    """(decode error, checksum problem, label problem) of one listed output; "" for each that is fine. Never raises."""
    location, path, size, sha256, max_pixels, label = task
    store = open_store(location)
    try:
        data = store.read(path)
    except OSError as e:
        return f"cannot read it: {e.strerror or e}", "", ""
    changed = ""
    if sha256 and str(len(data)) != size:
        changed = f"size differs from the manifest ({len(data)} bytes; the manifest says {size})"
    elif sha256 and hashlib.sha256(data).hexdigest() != sha256:
        changed = f"SHA-256 differs from the manifest (same size, {size} bytes)"
    try:
        image = images.decode(data, path, max_pixels=max_pixels)
    except images.DecodeError as e:
        return str(e), changed, ""
    return "", changed, _check_labels(store, label, image.shape[:2]) if label else ""


def _check_labels(store: Store, label: tuple, shape: tuple[int, int]) -> str:

    labels, paths, shas, strict = label
    files = {}
    for path, sha in zip(paths, shas, strict=False):
        try:
            files[path] = store.read(path)
        except OSError as e:
            return f"its label file {path} cannot be read: {e.strerror or e}"
        if sha and hashlib.sha256(files[path]).hexdigest() != sha:
            return f"its label file {path}'s SHA-256 differs from the manifest"
    if not strict:
        return ""
    try:
        problem = registry.get(labels.format).check(files, *shape, labels)
    except Exception as e:  # a label file damaged in a way its format's check did not foresee: named, not a crash
        problem = f"cannot be parsed: {type(e).__name__}: {e}"
    return f"its label file {problem}" if problem else ""


def _actual(store: Store, samples: dict) -> Callable[[dict], tuple[bytes, dict[str, bytes]]]:
    """What a replay is compared with: (image bytes, label files) of an output, from its shard or its files."""

    def actual(row: dict) -> tuple[bytes, dict[str, bytes]]:
        if samples:
            sample = samples[row["shard"]]
            paths = sample.meta.get("labels") or {}
            return sample.image, {paths.get(role, role): data for role, data in sample.labels}
        paths = [p for p in (row.get("labels") or "").split(";") if p]
        return store.read(row["output"]), {p: store.read(p) for p in paths}

    return actual


def _replay(store: Store, summary: dict, rows: list[dict], actual, labels) -> tuple[list[dict], list[str]]:
    try:
        arguments = summary["arguments"]
        size = tuple(arguments["size"]) if arguments.get("size") else None
        max_pixels = arguments.get("max_pixels", DEFAULT_MAX_PIXELS)
        options = run_labels.recorded_options(summary)
        settings = Settings(arguments["source"], summary["pipeline"], _Keep(), arguments["quality"], size, max_pixels,
                            options)  # fmt: skip
    except (KeyError, TypeError) as e:
        raise OutputError(f"'{store.join(SUMMARY_NAME)}' lacks what a replay needs ({e}); it is damaged.") from None
    worker = Worker(settings)
    jobs = run_labels.source_jobs(summary)
    changed: list[dict] = []
    replayed: list[str] = []
    for row in rows:
        try:
            reason = _replay_one(worker, row, actual, jobs)
        except ExpanderError:
            raise  # the store refuses or cannot be reached: not this row's fault
        except Exception as e:  # an odd row (hand-edited, damaged): reported, never a crash
            reason = f"cannot replay: {type(e).__name__}: {e}"
        if reason is not None:
            changed.append({"file": row["output"], "reason": reason})
        if not reason or not reason.startswith("cannot"):
            replayed.append(row["output"])
    return changed, replayed


class _Keep:
    """A replay's writer: it keeps each output for comparison, and writes nothing."""

    def put(self, sample: Sample) -> Sample:
        return sample


def _replay_one(worker: Worker, row: dict, actual, jobs: dict[str, Job]) -> str | None:
    """Why a replay of ``row`` differs from what is in the sink, or None when it is byte-identical."""
    copy = None if row["copy"] == "original" else int(row["copy"])
    out = Output(row["output"], copy, int(row["seed"]) if row["seed"] else None)
    job = jobs.get(row["source"]) or Job(row["source"], row.get("split") or None, row.get("class") or "")
    try:
        data = worker.source.read(row["source"])
    except OSError as e:
        return f"cannot replay: source '{worker.source.join(row['source'])}' {e.strerror or e}"
    job = Job(job.source, job.split, job.class_name, copies=copy or 0, objects=job.objects, done=frozenset())
    result = worker.run_outputs(job, data, [out])
    if result.failed:
        return f"cannot replay: {result.failed[0].error}"
    sample = result.samples[0] if result.samples else None
    if sample is None:
        return "cannot replay: the replay wrote nothing"
    image, files = actual(row)
    if sample.image != image or {path: content for _, path, content in sample.labels} != files:
        what = "source + labels + seed + pipeline" if worker.settings.labels else "source + seed + pipeline"
        return f"bytes differ from a replay of {what}"
    return None
