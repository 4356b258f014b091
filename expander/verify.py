"""``expander verify``: is an expanded folder intact, and does it still reproduce?

Checks every file ``manifest.csv`` lists as written exists, matches its recorded size and SHA-256,
and decodes, that no unlisted image sits beside them, and with ``replay`` regenerates a random
sample of outputs from source + seed + pipeline (through the same ``Worker`` the run used) and
compares bytes.
"""

from __future__ import annotations

import csv
import hashlib
import random
from pathlib import Path

from expander import images
from expander.errors import OutputError
from expander.execute import Settings, Worker, process_pool
from expander.limits import DEFAULT_MAX_PIXELS
from expander.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest, read_summary
from expander.output import safe_output_path
from expander.plan import Output
from expander.scan import is_image_name


def _check_file(task: tuple[str, str, str, int | None]) -> tuple[str, str]:
    """(decode error, checksum problem) of one listed file; "" for each that is fine. Never raises."""
    path, size, sha256, max_pixels = task
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"cannot read it: {e.strerror or e}", ""
    changed = ""
    if sha256 and str(len(data)) != size:
        changed = f"size differs from the manifest ({len(data)} bytes; the manifest says {size})"
    elif sha256 and hashlib.sha256(data).hexdigest() != sha256:
        changed = f"SHA-256 differs from the manifest (same size, {size} bytes)"
    try:
        images.decode(data, path, max_pixels=max_pixels)
    except images.DecodeError as e:
        return str(e), changed
    return "", changed


def verify(
    dst: str | Path, *, replay: int = 0, seed: int = 0, workers: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> dict:
    """Return {"ok", "checked", "missing", "extra", "undecodable", "changed", "unsafe", "replayed", "checksums", ...}.

    Every file the manifest lists as written is read once (in parallel): it must exist, match the size and
    SHA-256 the manifest records, and decode. Manifest paths that leave ``dst`` (absolute, ``..``) are
    reported as ``unsafe`` and never opened.
    """
    dst = Path(dst)
    summary = read_summary(dst)
    if summary is None or not (dst / MANIFEST_NAME).is_file():
        raise OutputError(
            f"'{dst}' has no {SUMMARY_NAME} and {MANIFEST_NAME}: it is not a finished expander output. "
            "Finish an interrupted run with expander expand ... --resume."
        )
    try:
        manifest = read_manifest(dst)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise OutputError(f"'{dst / MANIFEST_NAME}' cannot be read ({e}); it is damaged.") from None
    rows = [r for r in manifest if r.get("status") == "ok"]
    unsafe = sorted({r.get("output") or "" for r in rows if safe_output_path(dst, r.get("output") or "") is None})
    rows = [r for r in rows if (r.get("output") or "") not in unsafe]
    listed = {r["output"] for r in rows}
    missing = sorted(p for p in listed if not (dst / p).is_file())
    by_path = {r["output"]: r for r in rows}
    present = sorted(listed - set(missing))
    tasks = [(str(dst / p), by_path[p].get("bytes") or "", by_path[p].get("sha256") or "", max_pixels) for p in present]
    if workers > 1 and len(tasks) > 1:
        with process_pool(workers) as pool:
            checks = pool.map(_check_file, tasks, chunksize=32)
    else:
        checks = [_check_file(t) for t in tasks]
    undecodable = [{"file": p, "error": e} for p, (e, _) in zip(present, checks, strict=True) if e]
    changed = [{"file": p, "reason": c} for p, (_, c) in zip(present, checks, strict=True) if c]
    on_disk = {
        p.relative_to(dst).as_posix()
        for p in dst.rglob("*")
        if p.is_file() and (is_image_name(p.name) or p.name.endswith(images.TEMP_SUFFIX))
    }
    extra = sorted(on_disk - listed)

    replayed: list[str] = []
    if replay > 0:
        candidates = [r for r in rows if r["output"] in present]
        if "generator" in summary.get("pipeline", {}):
            # Replaying a model's output needs its worker setup (single-threaded TensorFlow); not done
            # here yet, so only the byte-for-byte originals of a generator run are replayed.
            candidates = [r for r in candidates if r.get("copy") == "original"]
        sample = random.Random(seed).sample(candidates, min(replay, len(candidates)))
        replay_changed, replayed = _replay(dst, summary, sample)
        changed += replay_changed
    return {
        "dst": str(dst.resolve()),
        "ok": not (missing or extra or undecodable or changed or unsafe),
        "checked": len(listed),
        "checksums": all(r.get("sha256") for r in rows),
        "missing": missing,
        "extra": extra,
        "undecodable": undecodable,
        "unsafe": unsafe,
        "replayed": replayed,
        "changed": changed,
    }


def _replay(dst: Path, summary: dict, rows: list[dict]) -> tuple[list[dict], list[str]]:
    try:
        arguments = summary["arguments"]
        size = tuple(arguments["size"]) if arguments.get("size") else None
        max_pixels = arguments.get("max_pixels", DEFAULT_MAX_PIXELS)
        settings = Settings(arguments["source"], str(dst), summary["pipeline"], arguments["quality"], size, max_pixels)
    except (KeyError, TypeError) as e:
        raise OutputError(f"'{dst / SUMMARY_NAME}' lacks what a replay needs ({e}); it is damaged.") from None
    worker = Worker(settings)
    changed: list[dict] = []
    replayed: list[str] = []
    for row in rows:
        try:
            reason = _replay_one(worker, dst, row)
        except Exception as e:  # an odd row (hand-edited, damaged): reported, never a crash
            reason = f"cannot replay: {type(e).__name__}: {e}"
        if reason is not None:
            changed.append({"file": row["output"], "reason": reason})
        if not reason or not reason.startswith("cannot"):
            replayed.append(row["output"])
    return changed, replayed


def _replay_one(worker: Worker, dst: Path, row: dict) -> str | None:
    """Why a replay of ``row`` differs from the file, or None when it is byte-identical."""
    copy = None if row["copy"] == "original" else int(row["copy"])
    out = Output(row["output"], copy, int(row["seed"]) if row["seed"] else None)
    source = worker.src / row["source"]
    try:
        data = source.read_bytes()
        image = worker.pixels(data, row["source"])
    except (OSError, images.DecodeError) as e:
        return f"cannot replay: source '{source}' {e}"
    if worker.render(out, data, image) != (dst / row["output"]).read_bytes():
        return "bytes differ from a replay of source + seed + pipeline"
    return None
