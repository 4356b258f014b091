"""``expander inspect``: what is in a dataset before expanding it.

Per split and class: counts and imbalance, image sizes, modes and formats, unreadable files,
exact duplicates (SHA-256 of the bytes) and near-duplicates: a 256-bit difference hash (dHash: is
each pixel of a 17x16 grayscale thumbnail brighter than its right neighbour?), and two images are
candidates when their hashes differ in at most ``NEAR_DUPLICATE_BITS`` bits, and confirmed when their
thumbnails also differ by at most ``NEAR_DUPLICATE_MEAN_DIFF`` grey levels on average. Calibrated on the
dogs-vs-cats photos (a copy re-encoded at JPEG quality 50 and shrunk 10% stays within 19 bits and 0.83 grey
levels; unrelated photos are 48+ bits apart; the 64-bit 9x8 hash put some 1 bit apart) and on the
Fashion-MNIST sample, whose centred, look-alike items pass the hash test but differ by 6.5+ grey levels.
A duplicate whose copies sit in different splits is a train/test leak.

Files are read and hashed in a process pool and only small facts come back: memory does not
grow with image size. The pairwise search is exact up to 10,000 images and sub-quadratic beyond
(``expander.neardup``).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expander import images, neardup
from expander.dataset import Dataset
from expander.limits import DEFAULT_MAX_PIXELS
from expander.pool import process_pool
from expander.scan import scan
from expander.storage import open_store

NEAR_DUPLICATE_BITS = 24  # of 256
NEAR_DUPLICATE_MEAN_DIFF = 4.0  # grey levels of 255, on the 17x16 thumbnail
_THUMB = (17, 16)  # width, height


@dataclass(frozen=True)
class FileFacts:
    rel_path: str
    split: str | None
    class_name: str
    size: int  # bytes
    sha256: str
    width: int = 0
    height: int = 0
    mode: str = ""  # gray, gray16, RGB, RGB16, RGBA, RGBA16
    thumbnail: bytes = b""  # 17x16 grayscale, 272 bytes: the dHash and the confirmation both come from it
    error: str = ""


def file_facts(
    root: str, rel_path: str, split: str | None, class_name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> FileFacts:
    """Read, hash and decode one file (in a folder or an object store); an unreadable file becomes facts with
    ``error``. Never raises."""
    try:
        data = open_store(root).read(rel_path)
    except OSError as e:
        return FileFacts(rel_path, split, class_name, 0, "", error=f"cannot read it: {e.strerror or e}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        image = images.decode(data, rel_path, max_pixels=max_pixels)
        channels = 1 if image.ndim == 2 else image.shape[2]
        mode = {1: "gray", 3: "RGB", 4: "RGBA"}[channels] + ("16" if image.dtype == np.uint16 else "")
        height, width = image.shape[:2]
        return FileFacts(rel_path, split, class_name, len(data), digest, width, height, mode, thumbnail(image))
    except images.DecodeError as e:
        return FileFacts(rel_path, split, class_name, len(data), digest, error=str(e))
    except Exception as e:
        return FileFacts(rel_path, split, class_name, len(data), digest, error=f"{type(e).__name__}: {e}")


def thumbnail(image: np.ndarray) -> bytes:
    """17x16 grayscale thumbnail (area-averaged) of an image in the package's array convention."""
    import cv2

    gray = images.to_8bit(image, channels=1)
    return cv2.resize(gray, _THUMB, interpolation=cv2.INTER_AREA).tobytes()


def dhashes(thumbnails: np.ndarray) -> np.ndarray:
    """(n, 16, 17) thumbnails -> (n, 4) uint64 difference hashes: is each pixel brighter than its right neighbour?"""
    bits = thumbnails[:, :, 1:] > thumbnails[:, :, :-1]
    return np.packbits(bits.reshape(len(thumbnails), -1), axis=1).view(np.uint64)


def _facts_task(args: tuple) -> FileFacts:
    return file_facts(*args)


def _lost_facts(args: tuple, reason: str) -> FileFacts:
    """A file whose worker died reading it, twice (a decoder crash, out of memory): unreadable, with why."""
    _, rel_path, split, class_name, _ = args
    return FileFacts(rel_path, split, class_name, 0, "", error=f"{reason}, twice")


def inspect_dataset(
    src: str | Path,
    workers: int = 1,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    duplicates_file: str | Path | None = None,
    labels: str = "auto",
) -> dict:
    """Survey ``src`` and return the report (see module docstring).

    ``src`` is a folder or an object-store URL; ``labels`` is what ``expand --labels`` takes. With
    ``duplicates_file``, also write the duplicate groups and leaks with a keep/drop decision per file
    (``expander.duplicates``), for ``expand --exclude``.
    """
    dataset = scan(src, None if labels == "none" else labels, max_pixels)
    tasks = [(dataset.location, i.rel_path, i.split, i.class_name, max_pixels) for i in dataset.items]
    if workers > 1 and len(tasks) > 1:
        with process_pool(workers) as pool:
            facts = list(pool.imap(_facts_task, tasks, chunksize=16, lost=_lost_facts))
    else:
        facts = [file_facts(*t) for t in tasks]
    report = _report(dataset, facts)
    if duplicates_file is not None:
        from expander import duplicates

        written = duplicates.write(report, {i.rel_path: i.split for i in dataset.items}, duplicates_file)
        report["duplicates_file"] = {"path": str(duplicates_file), "groups": len(written["groups"]),
                                     "drop": len(written["drop"])}  # fmt: skip
    return report


def _report(dataset: Dataset, facts: list[FileFacts]) -> dict:
    good = [f for f in facts if not f.error]
    counts = Counter((f.split, f.class_name) for f in facts)
    if dataset.labels is not None:  # a labelled dataset's classes are its objects': count instances
        counts = Counter((i.split, dataset.classes[c]) for i in dataset.items if i.objects is not None
                         for c in i.objects.classes)  # fmt: skip
    per_split = {}
    for split in dataset.splits:
        classes = {c: counts.get((split, c), 0) for c in dataset.classes}
        nonzero = [n for n in classes.values() if n]
        per_split[split or "all"] = {
            "classes": classes,
            "images": sum(classes.values()),
            "imbalance_ratio": round(max(nonzero) / min(nonzero), 2) if nonzero else None,  # over present classes
            "empty_classes": [c for c, n in classes.items() if n == 0],
        }
    exact = _exact_duplicates(good)
    near = _near_duplicates(good, {tuple(sorted(group)) for group in (g["files"] for g in exact)})
    widths, heights = [f.width for f in good], [f.height for f in good]
    common_sizes = Counter((f.width, f.height) for f in good).most_common(5)
    report = {
        "source": dataset.url or str(dataset.root.resolve()),
        "layout": "splits" if dataset.has_splits else "classes",
        "images": len(facts),
        "splits": per_split,
        "sizes": {
            "width": _range(widths),
            "height": _range(heights),
            "most_common": [{"size": f"{w}x{h}", "images": n} for (w, h), n in common_sizes],
        },
        "modes": dict(Counter(f.mode for f in good).most_common()),
        "formats": dict(Counter(Path(f.rel_path).suffix.lower() for f in facts).most_common()),
        "bytes": sum(f.size for f in facts),
        "unreadable": [{"file": f.rel_path, "error": f.error} for f in facts if f.error]
        + [{"file": shown, "error": reason} for shown, reason in dataset.rejected],
        "exact_duplicates": exact,
        "near_duplicates": near,
        "near_duplicate_threshold_bits": NEAR_DUPLICATE_BITS,
        "near_duplicate_threshold_mean_diff": NEAR_DUPLICATE_MEAN_DIFF,
        "leaks": [d for d in exact + near if d["cross_split"]],
        "ignored": dataset.ignored,
        "labels": _labels_report(dataset),
    }
    report["suggestion"] = _suggestion(dataset, report)
    return report


def _labels_report(dataset: Dataset) -> dict | None:
    """A labelled dataset's format, instances per class and split, and what is wrong with its labels."""
    labels = dataset.labels
    if labels is None:
        return None
    found = [p for i in dataset.items if i.objects is not None for p in (*i.objects.errors, *i.objects.problems)]
    return {
        "format": labels.format,
        "classes": list(labels.names),
        "instances": {split or "all": _instances(dataset, split) for split in dataset.splits},
        "images_without_objects": [i.rel_path for i in dataset.items if i.objects is None or not i.objects.count],
        "unreadable_labels": [e for i in dataset.items if i.objects is not None for e in i.objects.errors]
        + list(labels.errors),
        "notes": list(labels.notes),
        "labels_without_images": list(labels.orphans),
        "degenerate_boxes": [p for p in found if "zero-size" in p or "outside the image" in p],
        "unknown_classes": [p for p in found if "class id" in p or "category" in p or "no name" in p],
        "other_problems": [
            p
            for p in found
            if not any(k in p for k in ("zero-size", "outside the image", "class id", "category", "no name"))
        ],
    }


def _instances(dataset: Dataset, split: str | None) -> dict[str, int]:
    counts = Counter(c for i in dataset.items if i.split == split and i.objects is not None for c in i.objects.classes)
    return {name: counts.get(c, 0) for c, name in enumerate(dataset.classes)}


def _range(values: list[int]) -> dict:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": int(min(values)), "median": float(np.median(values)), "max": int(max(values))}


def _exact_duplicates(good: list[FileFacts]) -> list[dict]:
    groups: dict[str, list[FileFacts]] = defaultdict(list)
    for f in good:
        groups[f.sha256].append(f)
    return [
        {"files": [f.rel_path for f in group], "cross_split": len({f.split for f in group}) > 1, "kind": "exact"}
        for group in groups.values()
        if len(group) > 1
    ]


def _near_duplicates(good: list[FileFacts], exact_groups: set[tuple[str, ...]]) -> list[dict]:
    """Pairs within NEAR_DUPLICATE_BITS (expander.neardup: exact up to 10,000 images, LSH beyond) whose
    thumbnails also agree."""
    if len(good) < 2:
        return []
    thumbs = np.frombuffer(b"".join(f.thumbnail for f in good), np.uint8).reshape(len(good), _THUMB[1], _THUMB[0])
    exact_pairs = {(a, b) for group in exact_groups for a in group for b in group if a < b}
    found, distances = neardup.pairs(dhashes(thumbs), NEAR_DUPLICATE_BITS)
    result = []
    for (a, b), distance in zip(found.tolist(), distances.tolist(), strict=True):
        fa, fb = good[a], good[b]
        if tuple(sorted((fa.rel_path, fb.rel_path))) in exact_pairs:
            continue
        mean_diff = float(np.abs(thumbs[a].astype(np.int16) - thumbs[b]).mean())
        if mean_diff > NEAR_DUPLICATE_MEAN_DIFF:
            continue  # similar layout, different picture (e.g. two centred trousers)
        result.append({"files": [fa.rel_path, fb.rel_path], "cross_split": fa.split != fb.split, "kind": "near",
                       "distance_bits": distance, "mean_diff": round(mean_diff, 2)})  # fmt: skip
    return result


def _suggestion(dataset: Dataset, report: dict) -> str:
    src = dataset.location
    train = report["splits"].get("train") or report["splits"].get("all")
    parts = []
    if report["leaks"]:
        parts.append(f"fix the {len(report['leaks'])} train/test leak(s) listed above first, then: ")
    if train and train["imbalance_ratio"] and train["imbalance_ratio"] >= 1.5:
        parts.append(f"expander expand {src} --balance")
    else:
        parts.append(f"expander expand {src} --per-image 5")
    return "".join(parts)
