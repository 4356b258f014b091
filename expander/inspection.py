"""``expander inspect``: what is in a dataset before expanding it.

Per split and class: counts and imbalance, image sizes, modes and formats, unreadable files,
exact duplicates (SHA-256 of the bytes) and near-duplicates (``expander.neardup``: re-encoded, resized,
brightness/contrast/gamma/colour-changed, mirrored, cropped, shifted and slightly turned copies, each pair
with the kind of difference). A duplicate whose copies sit in different splits is a train/test leak; leaks
are listed first.

Files are read and hashed in a process pool and only small facts come back: memory does not
grow with image size (a 64x64 thumbnail and two hashes per image, as much again for a colour image's brightest
channel: about 4.1 or 8.2 KB), kept once, in ``Signatures``.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from expander import duplicates, images, neardup
from expander.dataset import Dataset
from expander.errors import OutputError
from expander.inventory import inventory_summary
from expander.limits import DEFAULT_MAX_PIXELS
from expander.pool import process_pool
from expander.scan import scan
from expander.storage import open_store


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
    thumbnail: bytes = b""  # 64x64 grey (neardup.THUMB): the near-duplicate check looks at it
    hashes: bytes = b""  # neardup.codes: the picture's and its mirror image's, 2 x 8 bytes
    colour_thumbnail: bytes = b""  # 64x64 of neardup.brightest, for a colour image only (recoloured copies)
    colour_hashes: bytes = b""  # neardup.codes of that thumbnail
    error: str = ""
    row: int = -1  # where ``_gathered`` put the signature in its ``Signatures``


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
        eight = images.to_8bit(image)  # once, for both signatures
        thumb = neardup.thumbnail(images.to_8bit(eight, channels=1))
        return FileFacts(rel_path, split, class_name, len(data), digest, width, height, mode, thumb.tobytes(),
                         neardup.codes(thumb).tobytes(), *_colour_signature(eight))  # fmt: skip
    except images.DecodeError as e:
        return FileFacts(rel_path, split, class_name, len(data), digest, error=str(e))
    except Exception as e:  # a decoder's surprise on one file: named in the report, never a crash
        return FileFacts(rel_path, split, class_name, len(data), digest, error=f"{type(e).__name__}: {e}")


def _colour_signature(image: np.ndarray) -> tuple[bytes, bytes]:
    """The thumbnail and hashes of an 8-bit colour image's brightest channel; nothing for a grey image."""
    if image.ndim == 2:
        return b"", b""
    colour = neardup.thumbnail(neardup.brightest(image))
    return colour.tobytes(), neardup.codes(colour).tobytes()


class Signatures:
    """The near-duplicate signatures of gathered files, row k for the k-th file, filled as the facts come back
    (the facts then keep none: holding each file's 8 KB in its facts and again in the arrays doubled inspect's
    memory). Rows of unreadable files and the colour rows of grey images are never written, so never resident."""

    def __init__(self, n: int) -> None:
        side = neardup.THUMB
        self.thumbs = np.empty((n, side, side), np.uint8)
        self.hashes = np.zeros((n, 2), np.uint64)
        self.colour_thumbs = np.empty((n, side, side), np.uint8)
        self.colour_hashes = np.zeros((n, 2), np.uint64)
        self.coloured = np.zeros(n, bool)

    def keep(self, row: int, facts: FileFacts) -> FileFacts:
        """Store ``facts``' signature in ``row``; the facts without it."""
        if facts.thumbnail:
            self.thumbs[row] = np.frombuffer(facts.thumbnail, np.uint8).reshape(self.thumbs.shape[1:])
            self.hashes[row] = np.frombuffer(facts.hashes, np.uint64)
        if facts.colour_thumbnail:
            self.colour_thumbs[row] = np.frombuffer(facts.colour_thumbnail, np.uint8).reshape(self.thumbs.shape[1:])
            self.colour_hashes[row] = np.frombuffer(facts.colour_hashes, np.uint64)
            self.coloured[row] = True
        return replace(facts, thumbnail=b"", hashes=b"", colour_thumbnail=b"", colour_hashes=b"", row=row)


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
    sheet_file: str | Path | None = None,
) -> dict:
    """Survey ``src`` and return the report (see module docstring).

    ``src`` is a folder or an object-store URL; ``labels`` is what ``expand --labels`` takes. With
    ``duplicates_file``, also write the duplicate groups and leaks with a keep/drop decision per file
    (``expander.duplicates``), for ``expand --exclude``; with ``sheet_file``, draw those groups side by side
    (PNG) for a person to confirm.
    """
    for path, option in ((duplicates_file, "--duplicates"), (sheet_file, "--duplicates-sheet")):
        if path is not None:
            _writable(Path(path), option)  # before the survey, not after it
    dataset = scan(src, labels, max_pixels)
    tasks = [(dataset.location, i.rel_path, i.split, i.class_name, max_pixels) for i in dataset.items]
    facts, signatures = _gathered(tasks, workers)
    report = _report(dataset, facts, signatures, workers)
    split_of = {i.rel_path: i.split for i in dataset.items}
    if duplicates_file is not None:
        written = duplicates.write(report, split_of, duplicates_file)
        report["duplicates_file"] = {"path": str(duplicates_file), "groups": len(written["groups"]),
                                     "drop": len(written["drop"])}  # fmt: skip
    if sheet_file is not None:
        shown = duplicates.contact_sheet(duplicates.groups(report, split_of), dataset.location, sheet_file)
        report["duplicates_sheet"] = {"path": str(sheet_file), "groups": shown}
    return report


def find_duplicates(dataset: Dataset, workers: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> list[dict]:
    """The dataset's exact duplicate groups and near-duplicate pairs, as ``inspect`` reports them (``files``,
    ``kind``, ``cross_split``...): what ``expander split`` keeps together."""
    tasks = [(dataset.location, i.rel_path, i.split, i.class_name, max_pixels) for i in dataset.items]
    facts, signatures = _gathered(tasks, workers)
    good = [f for f in facts if not f.error]
    exact = _exact_duplicates(good)
    return exact + _near_duplicates(good, {tuple(sorted(g["files"])) for g in exact}, signatures, workers)


def _gathered(tasks: list[tuple], workers: int) -> tuple[list[FileFacts], Signatures]:
    """``file_facts`` of every task, in a pool when there are workers and files enough, and their signatures."""
    signatures = Signatures(len(tasks))
    if workers > 1 and len(tasks) > 1:
        with process_pool(workers) as pool:
            found = pool.imap(_facts_task, tasks, chunksize=16, lost=_lost_facts)
            return [signatures.keep(k, f) for k, f in enumerate(found)], signatures
    return [signatures.keep(k, file_facts(*t)) for k, t in enumerate(tasks)], signatures


def _matches(good: list[FileFacts], signatures: Signatures, workers: int) -> list[neardup.Match]:
    """``neardup``'s matches among readable files, by their place in ``good``."""
    if len(good) < 2:
        return []
    rows = np.array([f.row for f in good], np.int64)
    everyone = bool(len(rows) == len(signatures.hashes) and (rows == np.arange(len(rows))).all())
    thumbs = signatures.thumbs if everyone else signatures.thumbs[rows]  # no copy when every file was readable
    coloured = np.flatnonzero(signatures.coloured[rows])
    colours = neardup.Colours(
        coloured, signatures.colour_thumbs[rows[coloured]], signatures.colour_hashes[rows[coloured]]
    )
    sizes = [(f.width, f.height) for f in good]
    return neardup.near_duplicates(thumbs, signatures.hashes[rows], sizes, workers, colours)


def _writable(path: Path, option: str) -> None:
    """A file ``inspect`` will write: its folder made if missing; a folder in its place, or a folder that cannot
    be made, is an error naming the option."""
    if path.is_dir():
        raise OutputError(f"Cannot write {option} '{path}': it is a folder. Give a file name in it instead.")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OutputError(f"Cannot write {option} '{path}': '{blocking}' is a file, not a folder. Choose another path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"Cannot write {option} '{path}': {e.strerror or e}. Choose another path.") from None


def same_pictures(first: list[str], second: list[str], workers: int = 1) -> list[dict]:
    """Pairs of local files, one from each list, that show the same picture: ``{"files": [a, b], "difference":
    "exact" | a neardup kind}``, in ``first``'s order. What ``train`` checks its training images against its
    test and validation images with."""
    paths = [*first, *second]
    tasks = [(str(Path(p).parent), Path(p).name, None, "", DEFAULT_MAX_PIXELS) for p in paths]
    facts, signatures = _gathered(tasks, workers)
    side = len(first)
    found = []
    by_digest: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(facts):
        if f.sha256:
            by_digest[f.sha256].append(i)
    for members in by_digest.values():
        found += [(a, b, "exact") for a in members for b in members if a < side <= b]
    good = [i for i, f in enumerate(facts) if not f.error]
    exact = {(a, b) for a, b, _ in found}
    for m in _matches([facts[i] for i in good], signatures, workers):
        a, b = good[m.a], good[m.b]
        if a < side <= b and (a, b) not in exact:
            found.append((a, b, m.kind))
    return [{"files": [paths[a], paths[b]], "difference": kind} for a, b, kind in sorted(found)]


def _report(dataset: Dataset, facts: list[FileFacts], signatures: Signatures, workers: int) -> dict:
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
    near = _near_duplicates(good, {tuple(sorted(group)) for group in (g["files"] for g in exact)}, signatures, workers)
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
        "leaks": [d for d in exact + near if d["cross_split"]],
        "ignored": dataset.ignored,
        "inventory": inventory_summary(dataset),
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


def _near_duplicates(good: list[FileFacts], exact_groups: set[tuple[str, ...]], signatures: Signatures,
                     workers: int) -> list[dict]:  # fmt: skip
    """The pairs ``neardup`` finds, but those of the same exact group, leaks first."""
    exact_pairs = {(a, b) for group in exact_groups for a in group for b in group if a < b}
    result = []
    for m in _matches(good, signatures, workers):
        fa, fb = good[m.a], good[m.b]
        if tuple(sorted((fa.rel_path, fb.rel_path))) in exact_pairs:
            continue
        result.append({"files": [fa.rel_path, fb.rel_path], "cross_split": fa.split != fb.split, "kind": "near",
                       "difference": m.kind, "distance_bits": m.bits, "correlation": m.correlation})  # fmt: skip
    return sorted(result, key=lambda d: (not d["cross_split"], d["files"]))


def _suggestion(dataset: Dataset, report: dict) -> str:
    src = dataset.location
    train = report["splits"].get("train") or report["splits"].get("all")
    parts = []
    if report["leaks"]:
        parts.append(f"fix the {len(report['leaks'])} train/test leak(s) listed above first (expander inspect {src} "
                     "--duplicates dup.json writes which copies to drop, keeping the test copy), then: ")  # fmt: skip
    if train and train["imbalance_ratio"] and train["imbalance_ratio"] >= 1.5:
        parts.append(f"expander expand {src} --balance")
    else:
        parts.append(f"expander expand {src} --per-image 5")
    if report["leaks"]:
        parts.append(" --exclude dup.json")
    return "".join(parts)
