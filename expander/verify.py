"""``expander verify``: is an expanded folder intact, and does it still reproduce?

Checks every file ``manifest.csv`` lists as written exists, matches its recorded size and SHA-256,
and decodes, that no unlisted image sits beside them, and with ``replay`` regenerates a random
sample of outputs from source + seed + pipeline (through the same ``Worker`` the run used) and
compares bytes.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import random
from collections.abc import Callable
from pathlib import Path

from expander import images
from expander.dataset import is_image_name
from expander.errors import OutputError
from expander.execute import Settings, Worker, process_pool
from expander.limits import DEFAULT_MAX_PIXELS
from expander.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest, read_summary
from expander.output import safe_output_path, safe_relative
from expander.plan import Output
from expander.storage import LocalStore, Store, open_store


def _check_file(task: tuple) -> tuple[str, str, str]:
    """(decode error, checksum problem, label problem) of one listed file; "" for each that is fine. Never raises.

    ``task``: (output folder or URL, path in it, size, sha256, max_pixels, label) where label is None or (label
    path, its sha256, format,
    number of classes, whether its boxes are checked). An original's label file is the source's own, copied:
    its checksum is checked, its boxes are not (the run summary and ``inspect`` report the source's problems).
    """
    location, path, size, sha256, max_pixels, label = task
    try:
        data = open_store(location).read(path)
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
    return "", changed, _check_label(label, image.shape[:2]) if label else ""


def _check_label(label: tuple[str, str, str, int, bool], shape: tuple[int, int]) -> str:
    from expander.labels.checks import label_problem

    path, sha256, format, classes, strict = label
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"its label file cannot be read: {e.strerror or e}"
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return "its label file's SHA-256 differs from the manifest"
    problem = label_problem(format, data, shape, classes) if strict else ""
    return f"its label file {problem}" if problem else ""


def verify(
    dst: str | Path, *, replay: int = 0, seed: int = 0, workers: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> dict:
    """Return {"ok", "checked", "missing", "extra", "undecodable", "changed", "unsafe", "replayed", "checksums", ...}.

    Every file the manifest lists as written is read once (in parallel): it must exist, match the size and
    SHA-256 the manifest records, and decode. Manifest paths that leave ``dst`` (absolute, ``..``) are
    reported as ``unsafe`` and never opened. A sharded output's shards are checked against ``shards.json``
    and its samples against the manifest (``expander.shards.check``).
    """
    store = open_store(dst)
    summary, rows = _read(store)
    unsafe = sorted({r.get("output") or "" for r in rows if not safe_relative(r.get("output") or "")})
    rows = [r for r in rows if (r.get("output") or "") not in unsafe]
    if isinstance(summary.get("shards"), dict):
        from expander.shards.check import verify_shards

        found = verify_shards(store, rows, max_pixels)
        present = {r["output"] for r in rows if r.get("shard") in found["samples"]}
        samples = found.pop("samples")

        def actual(row: dict) -> bytes:  # what a replay is compared with: the sample in its shard
            return samples[row["shard"]]
    else:
        found = _verify_files(store, summary, rows, workers, max_pixels)
        present = set(found.pop("present"))

        def actual(row: dict) -> bytes:  # ... or the file
            return store.read(row["output"])

    replayed: list[str] = []
    if replay > 0:
        candidates = [r for r in rows if r["output"] in present]
        if "generator" in summary.get("pipeline", {}):
            # Replaying a model's output needs its worker setup (single-threaded TensorFlow); not done
            # here yet, so only the byte-for-byte originals of a generator run are replayed.
            candidates = [r for r in candidates if r.get("copy") == "original"]
        sample = random.Random(seed).sample(candidates, min(replay, len(candidates)))
        replay_changed, replayed = _replay(store, summary, sample, actual)
        found["changed"] += replay_changed
    problems = ("missing", "extra", "undecodable", "changed", "labels")
    return {
        "dst": store.location if store.remote else str(Path(store.location).resolve()),
        "ok": not (unsafe or any(found.get(k) for k in problems)),
        "checked": len(rows),
        "checksums": all(r.get("sha256") for r in rows),
        "missing": found["missing"],
        "extra": found["extra"],
        "undecodable": found["undecodable"],
        "unsafe": unsafe,
        "replayed": replayed,
        "changed": found["changed"],
        "labels": found.get("labels", []),
    }


def _read(dst: Store) -> tuple[dict, list[dict]]:
    """The summary and the manifest rows of written outputs."""
    summary = read_summary(dst)
    if summary is None or not dst.exists(MANIFEST_NAME):
        raise OutputError(
            f"'{dst.location}' has no {SUMMARY_NAME} and {MANIFEST_NAME}: it is not a finished expander output. "
            "Finish an interrupted run with expander expand ... --resume."
        )
    try:
        manifest = read_manifest(dst)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise OutputError(f"'{dst.join(MANIFEST_NAME)}' cannot be read ({e}); it is damaged.") from None
    return summary, [r for r in manifest if r.get("status") == "ok"]


def _verify_files(dst: Store, summary: dict, rows: list[dict], workers: int, max_pixels: int | None) -> dict:
    """The checks of an output written as files (and label files)."""
    listed = {r["output"] for r in rows}
    on_disk = set(dst.files())
    missing = sorted(listed - on_disk)
    by_path = {r["output"]: r for r in rows}
    present = sorted(listed - set(missing))
    labels = summary.get("labels") if isinstance(summary.get("labels"), dict) else None

    def label_task(row: dict) -> tuple | None:
        path = safe_output_path(dst.root, row.get("labels") or "") if labels and isinstance(dst, LocalStore) else None
        if path is None:
            return None
        return (str(path), row.get("labels_sha256") or "", labels["format"], len(labels["classes"]),  # type: ignore[index]
                row.get("copy") != "original")  # fmt: skip

    tasks = [(dst.location, p, by_path[p].get("bytes") or "", by_path[p].get("sha256") or "", max_pixels,
              label_task(by_path[p])) for p in present]  # fmt: skip
    if workers > 1 and len(tasks) > 1:
        with process_pool(workers) as pool:
            checks = pool.map(_check_file, tasks, chunksize=32)
    else:
        checks = [_check_file(t) for t in tasks]
    dataset_files = (labels or {}).get("files") or []
    missing += sorted(f for f in dataset_files if isinstance(f, str) and f not in on_disk)
    images_there = {f for f in on_disk if is_image_name(f) or f.endswith(images.TEMP_SUFFIX)}
    return {
        "present": present,
        "missing": missing,
        "extra": sorted(images_there - listed - {r.get("labels") or "" for r in rows}),  # mask PNGs are label files
        "undecodable": [{"file": p, "error": e} for p, (e, _, _) in zip(present, checks, strict=True) if e],
        "changed": [{"file": p, "reason": c} for p, (_, c, _) in zip(present, checks, strict=True) if c],
        "labels": [{"file": p, "reason": q} for p, (_, _, q) in zip(present, checks, strict=True) if q],
    }


def _replay(
    dst: Store, summary: dict, rows: list[dict], actual: Callable[[dict], bytes]
) -> tuple[list[dict], list[str]]:
    try:
        arguments = summary["arguments"]
        size = tuple(arguments["size"]) if arguments.get("size") else None
        max_pixels = arguments.get("max_pixels", DEFAULT_MAX_PIXELS)
        labels = _label_options(summary, arguments)
        settings = Settings(arguments["source"], dst.location, summary["pipeline"], arguments["quality"], size,
                            max_pixels, labels)  # fmt: skip
    except (KeyError, TypeError) as e:
        raise OutputError(f"'{dst.join(SUMMARY_NAME)}' lacks what a replay needs ({e}); it is damaged.") from None
    worker = Worker(settings)
    replay_one = _labelled_replayer(worker, dst) if labels is not None else functools.partial(_replay_one, worker)
    changed: list[dict] = []
    replayed: list[str] = []
    for row in rows:
        try:
            reason = replay_one(row, actual)
        except Exception as e:  # an odd row (hand-edited, damaged): reported, never a crash
            reason = f"cannot replay: {type(e).__name__}: {e}"
        if reason is not None:
            changed.append({"file": row["output"], "reason": reason})
        if not reason or not reason.startswith("cannot"):
            replayed.append(row["output"])
    return changed, replayed


def _label_options(summary: dict, arguments: dict):
    labels = summary.get("labels")
    if not isinstance(labels, dict):
        return None
    from expander.labels.worker import LabelOptions

    return LabelOptions(labels["format"], arguments.get("min_visibility", 0.1), bool(arguments.get("keep_empty")),
                        bool(labels.get("class_masks")))  # fmt: skip


def _labelled_replayer(worker: Worker, dst: Store) -> Callable[[dict, Callable], str | None]:
    """Replays of labelled outputs: the source dataset is read again for its labels; image and label compared."""
    from expander.labels.worker import LabelledSource, label_path
    from expander.plan import Job
    from expander.scan import scan

    assert worker.settings.labels is not None
    options = worker.settings.labels
    items = {i.rel_path: i for i in scan(worker.src, options.format).items}

    def replay_one(row: dict, actual: Callable[[dict], bytes]) -> str | None:
        item = items[row["source"]]
        job = Job(item.rel_path, item.split, "", objects=item.objects)
        copy = None if row["copy"] == "original" else int(row["copy"])
        source = LabelledSource(options, worker.src, job, (worker.src / item.rel_path).read_bytes(), worker.order,
                                worker.settings.size, worker.settings.max_pixels)  # fmt: skip
        written = source.output(Output(row["output"], copy, int(row["seed"]) if row["seed"] else None),
                                worker.augmenter, worker.settings.quality, worker.order)  # fmt: skip
        label = label_path(options.format, job, row["output"])
        if written.image == actual(row) and (label is None or written.label == dst.read(label)):
            return None
        return "bytes differ from a replay of source + labels + seed + pipeline"

    return replay_one


def _replay_one(worker: Worker, row: dict, actual: Callable[[dict], bytes]) -> str | None:
    """Why a replay of ``row`` differs from the file, or None when it is byte-identical."""
    copy = None if row["copy"] == "original" else int(row["copy"])
    out = Output(row["output"], copy, int(row["seed"]) if row["seed"] else None)
    try:
        data = worker.source.read(row["source"])
        image = worker.pixels(data, row["source"])
    except (OSError, images.DecodeError) as e:
        return f"cannot replay: source '{worker.source.join(row['source'])}' {e}"
    if worker.render(out, data, image) != actual(row):
        return "bytes differ from a replay of source + seed + pipeline"
    return None
