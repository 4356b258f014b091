"""``expander verify``: is an expanded folder intact, and does it still reproduce?

Checks every file ``manifest.csv`` lists as written exists and decodes, that no unlisted image
sits beside them, and with ``replay`` regenerates a random sample of outputs from source + seed
+ pipeline (through the same ``Worker`` the run used) and compares bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

from expander import images
from expander.errors import OutputError
from expander.execute import Settings, Worker, process_pool
from expander.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest, read_summary
from expander.plan import Output
from expander.scan import is_image_name


def _decode_error(path: str) -> str:
    try:
        images.decode(Path(path).read_bytes(), path)
        return ""
    except (OSError, images.DecodeError) as e:
        return str(e)


def verify(dst: str | Path, *, replay: int = 0, seed: int = 0, workers: int = 1) -> dict:
    """Return {"ok", "checked", "missing", "extra", "undecodable", "changed", "replayed", ...}."""
    dst = Path(dst)
    summary = read_summary(dst)
    if summary is None or not (dst / MANIFEST_NAME).is_file():
        raise OutputError(
            f"'{dst}' has no {SUMMARY_NAME} and {MANIFEST_NAME}: it is not a finished expander output. "
            "Finish an interrupted run with expander expand ... --resume."
        )
    rows = [r for r in read_manifest(dst) if r["status"] == "ok"]
    listed = {r["output"] for r in rows}
    missing = sorted(p for p in listed if not (dst / p).is_file())
    present = sorted(listed - set(missing))
    paths = [str(dst / p) for p in present]
    if workers > 1 and len(paths) > 1:
        with process_pool(workers) as pool:
            errors = pool.map(_decode_error, paths, chunksize=32)
    else:
        errors = [_decode_error(p) for p in paths]
    undecodable = [{"file": p, "error": e} for p, e in zip(present, errors, strict=True) if e]
    on_disk = {
        p.relative_to(dst).as_posix()
        for p in dst.rglob("*")
        if p.is_file() and (is_image_name(p.name) or p.name.endswith(images.TEMP_SUFFIX))
    }
    extra = sorted(on_disk - listed)

    changed, replayed = [], []
    if replay > 0:
        candidates = [r for r in rows if r["output"] in present]
        if "generator" in summary["pipeline"]:
            # Replaying a model's output needs its worker setup (single-threaded TensorFlow); not done
            # here yet, so only the byte-for-byte originals of a generator run are replayed.
            candidates = [r for r in candidates if r["copy"] == "original"]
        sample = random.Random(seed).sample(candidates, min(replay, len(candidates)))
        changed, replayed = _replay(dst, summary, sample)
    return {
        "dst": str(dst.resolve()),
        "ok": not (missing or extra or undecodable or changed),
        "checked": len(listed),
        "missing": missing,
        "extra": extra,
        "undecodable": undecodable,
        "replayed": replayed,
        "changed": changed,
    }


def _replay(dst: Path, summary: dict, rows: list[dict]) -> tuple[list[dict], list[str]]:
    arguments = summary["arguments"]
    size = tuple(arguments["size"]) if arguments.get("size") else None
    worker = Worker(Settings(arguments["source"], str(dst), summary["pipeline"], arguments["quality"], size))
    changed, replayed = [], []
    for row in rows:
        copy = None if row["copy"] == "original" else int(row["copy"])
        out = Output(row["output"], copy, int(row["seed"]) if row["seed"] else None)
        source = worker.src / row["source"]
        try:
            data = source.read_bytes()
            image = worker.pixels(data, row["source"])
        except (OSError, images.DecodeError) as e:
            changed.append({"file": row["output"], "reason": f"cannot replay: source '{source}' {e}"})
            continue
        expected = worker.render(out, data, image)
        replayed.append(row["output"])
        if expected != (dst / row["output"]).read_bytes():
            changed.append({"file": row["output"], "reason": "bytes differ from a replay of source + seed + pipeline"})
    return changed, replayed
