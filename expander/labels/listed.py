"""Formats whose labels sit in list files: one file per split (or per dataset) that names its images and their
objects. CreateML JSON, CSV box lists, CVAT for images XML and Label Studio JSON are each a ``Listed`` format:
the format parses a list file into ``Listing`` entries and writes entries back; everything else is here.

An entry is a plain dict: ``file`` (the image as the list names it), ``width``/``height`` (None when the list
does not say), ``own`` (the format's own record of the entry, kept for the output), ``objects`` (shapes) and
``moved`` (set on an entry rendered from moved shapes: an original's entry is written as the source had it),
``copy`` (set on a copy's entry, so a format can give it new ids) and, where the list says, ``subset`` (the
split). A shape is ``label``, ``kind`` (``box``,
``polygon`` or ``points``), ``box`` ([x0, y0, x1, y1] in pixels), ``points`` ([[x, y], ...] for polygons and
points) and ``own`` (the format's record of the object). Boxes move as boxes, polygons as their filled outline
(a mask, traced back), points as keypoints.

Each output's entry is written by its worker under ``.<format>/<output>.json`` (its label file, as COCO's
fragments are, so a run can resume and be verified from disk); the list files are assembled from them in plan
order when the run ends. A list file whose images were all copied unchanged (val/ and test/) is the source's,
byte for byte.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from expander.dataset import Item, natural_key
from expander.errors import LayoutError
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read, Written
from expander.labels.evidence import examine
from expander.labels.instances import (
    Instances,
    box_fits,
    check_mask_memory,
    clip_corners,
    fill_polygons,
    mask_box,
    polygon_box,
    trace_polygons,
)
from expander.labels.tree import Tree, inside, split_in_name, split_of
from expander.limits import MAX_OBJECTS_PER_IMAGE
from expander.plan import Output
from expander.textfiles import MB, TextFileError, decode_text

MAX_LIST_BYTES = 2048 * MB  # a list file is the whole split's labels, as a COCO JSON is
POINT = 0.5  # half the side of the box that carries a points shape through the pipeline
KINDS = ("box", "polygon", "points")


@dataclass
class Listing:
    """A parsed list file: its entries, what the format keeps of the file besides them, and the entries or
    objects that cannot be read (each names the file and the entry)."""

    entries: list[dict] = field(default_factory=list)
    extras: Any = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader decided that a user should know


def shape(label: str, kind: str, box: list[float], points: list | None = None, own: Any = None) -> dict:
    """A shape as the formats build them."""
    return {"label": label, "kind": kind, "box": [float(v) for v in box],
            "points": points, "own": own if own is not None else {}}  # fmt: skip


def points_shape(label: str, kind: str, points: list, own: Any = None) -> dict:
    """A polygon or points shape, its box around its points."""
    array = np.asarray(points, np.float64).reshape(-1, 2)
    return shape(label, kind, list(polygon_box(array)), array.tolist(), own)


class Listed(LabelFormat):
    """A list-file format: subclasses set ``name``, ``description``, ``fragments`` and implement ``parse`` and
    ``write`` (and ``locate`` when a list names images otherwise than by a path)."""

    def parse(self, text: str, path: str) -> Listing:
        """A list file's entries (TextFileError or ValueError: it cannot be read as this format at all)."""
        raise NotImplementedError

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        """A list file holding ``entries`` (a copy's has ``copy`` set), with what the source kept besides."""
        raise NotImplementedError

    # --- a new entry (--to: written from another format's objects) -----------------------------------------
    def name_of(self, output: str) -> str:
        """How a list at the dataset's root names an output's image."""
        return output

    def new_entry(self, output: str) -> Any:
        """The ``own`` of an entry with nothing of the format's own yet."""
        return {}

    def new_shape(self, kind: str, label: str) -> Any:
        """The ``own`` of a shape with nothing of the format's own yet."""
        return {}

    def new_extras(self) -> Any:
        """What a new list file holds besides its entries."""
        return None

    def locate(self, entry: dict) -> list[str]:
        """The paths an entry's image may have, most likely first (Label Studio names images by URL, CVAT's
        project export puts them in a folder per subset)."""
        return [entry["file"].replace("\\", "/")]

    # --- reading ------------------------------------------------------------------------------------------
    def coverage(self, tree: Tree) -> int:
        return len(self._placed(tree)[0])

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        placed, orphans, errors = self._placed(tree)
        listings = self._listings(tree)
        names = tuple(sorted({s["label"] for _, entry in placed.values() for s in entry["objects"]},
                             key=natural_key))  # fmt: skip
        index = {n: i for i, n in enumerate(names)}
        items = [Item(rel, split_of(rel) or split_in_name(entry.get("subset") or path), "",
                      _objects(path, entry, index))
                 for rel, (path, entry) in placed.items()]  # fmt: skip
        folders = {posixpath.dirname(rel) for rel in placed}
        # the images beside listed ones that no entry lists: background images
        items += [Item(i, split_of(i), "", Objects()) for i in tree.images
                  if i not in placed and posixpath.dirname(i) in folders]  # fmt: skip
        items.sort(key=lambda i: natural_key(i.rel_path))
        lists = {path: {"extras": listing.extras, "raw": raw, "entries": listing.entries}
                 for path, (listing, raw) in listings.items()}  # fmt: skip
        details = {"lists": lists, "image_list": {rel: path for rel, (path, _) in placed.items()}}
        notes = tuple(note for listing, _ in listings.values() for note in listing.notes)
        return items, LabelSet(self.name, names, tuple(listings), tuple(orphans), notes, tuple(errors), details)

    def _listings(self, tree: Tree) -> dict[str, tuple[Listing, bytes]]:
        """Every list file of this format under the tree (by its content), parsed once per tree."""
        key = f"listed-{self.name}"
        if key not in tree.cache:
            found = {}
            for path in tree.files:
                evidence = examine(tree, path)
                if evidence is not None and evidence.reads_as == self.name:
                    found[path] = self._load(tree, path)
            tree.cache[key] = found
        return tree.cache[key]

    def _load(self, tree: Tree, path: str) -> tuple[Listing, bytes]:
        try:
            raw = tree.read(path, MAX_LIST_BYTES)
            listing = self.parse(decode_text(raw), path)
            if listing.errors and not listing.entries:  # nothing of it is usable: say why, not "images unplaced"
                raise ValueError(f"no entry can be read ({listing.errors[0]})")
            return listing, raw
        except (OSError, TextFileError, ValueError, KeyError, TypeError) as e:
            reason = e.strerror if isinstance(e, OSError) else f"{type(e).__name__}: {e}"
            raise LayoutError(
                f"Cannot read {self.name} list file '{tree.where(path)}': {reason}. Fix it, or pass --labels with "
                "another format (--labels none reads class folders)."
            ) from None

    def _placed(self, tree: Tree) -> tuple[dict[str, tuple[str, dict]], list[str], list[str]]:
        """Image -> (list file, entry) for every entry whose image is in the tree; entries of no image; errors
        (an image listed twice, entries that cannot be read)."""
        key = f"listed-{self.name}-placed"
        if key not in tree.cache:
            images = set(tree.images)
            by_name: dict[str, list[str]] = {}
            for image in tree.images:
                by_name.setdefault(posixpath.basename(image), []).append(image)
            placed: dict[str, tuple[str, dict]] = {}
            orphans, errors = [], []
            for path, (listing, _) in self._listings(tree).items():
                errors += listing.errors
                for entry in listing.entries:
                    rel = _image_of(tree, path, self.locate(entry), images, by_name)
                    if rel is None:
                        orphans.append(f"{path}: '{entry['file']}' is not an image of the dataset")
                    elif rel in placed:
                        errors.append(f"{path}: '{entry['file']}' is listed again (also in {placed[rel][0]}): "
                                      "whose labels are whose cannot be told")  # fmt: skip
                    else:
                        placed[rel] = (path, entry)
            tree.cache[key] = placed, orphans, errors
        return tree.cache[key]

    # --- one output -----------------------------------------------------------------------------------------
    def masked(self, objects: Objects) -> int:
        return objects.count if any(s["kind"] == "polygon" for s in objects.records) else 0

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        areas = self.masked(objects) > 0
        if areas:
            check_mask_memory(objects.count, height, width)
        boxes, masks, keypoints = [], [], []
        for s in objects.records:
            x0, y0, x1, y1 = s["box"]
            points = np.asarray(s["points"] or [], np.float64).reshape(-1, 2)
            grown = POINT if s["kind"] == "points" else 0.0
            boxes.append((x0 - grown, y0 - grown, x1 + grown, y1 + grown))
            if areas:
                outline = points if s["kind"] == "polygon" else np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
                masks.append(fill_polygons([outline], height, width))
            keypoints.append([v for x, y in points for v in (x, y, 2.0)] if s["kind"] == "points" else [])
        if not any(keypoints):
            keypoints = []
        return Instances(list(objects.classes), boxes, list(range(objects.count)), masks, keypoints)

    def outlines(self, objects: Objects, height: int, width: int) -> list[list[list[float]] | None]:
        return [s["points"] if s["kind"] == "polygon" else None for s in objects.records]

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        return (f".{self.name}/{output}.json",)

    def original_labels(self, objects: Objects, source: str, read: Read) -> Files:
        return {self.label_paths(objects, source, source)[0]: canonical((objects.head or {}).get("entry") or {})}

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        """An output's entry (its image and moved objects, as canonical JSON)."""
        source = dict((objects.head or {}).get("entry") or {"file": posixpath.basename(out.rel_path), "own": {}})
        shapes, classes = [], []
        for position, source_index in enumerate(moved.index):
            moved_shape = _moved(objects.records[source_index], moved, position)
            if moved_shape is not None:
                shapes.append(moved_shape)
                classes.append(moved.classes[position])
        folder = posixpath.dirname(source["file"])
        entry = {**source, "file": posixpath.join(folder, posixpath.basename(out.rel_path)), "width": size[0],
                 "height": size[1], "objects": shapes}  # fmt: skip
        entry["moved"] = True  # rendered, not copied: the format writes it from its shapes
        if out.copy_index is not None:
            entry["copy"] = True
        return {paths[0]: canonical(entry)}, classes

    # --- checking ------------------------------------------------------------------------------------------
    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        index = {n: i for i, n in enumerate(labels.names)}
        labels_written = (s.get("label") for data in files.values() for s in json.loads(data)["objects"])
        return dict(Counter(index.get(label, -1) for label in labels_written))

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        for data in files.values():
            try:
                entry = json.loads(data)
                if entry["width"] is not None and (entry["width"], entry["height"]) != (width, height):
                    return f"its size {entry['width']}x{entry['height']} is not its image's {width}x{height}"
                for s in entry["objects"]:
                    if s["label"] not in labels.names:
                        return f"label {s['label']!r} is not one of the dataset's"
                    x0, y0, x1, y1 = s["box"]
                    if not box_fits(x0, y0, x1, y1, width, height):
                        return f"box {s['box']} is not inside the image"
            except (ValueError, KeyError, TypeError) as e:
                return f"cannot be parsed: {type(e).__name__}: {e}"
        return ""

    # --- the list files -------------------------------------------------------------------------------------
    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        """Each list file, from the entries of the outputs written for it, in plan order; the source's bytes
        when they are exactly its entries unchanged."""
        lists = labels.details["lists"]
        entries: dict[str, list[dict]] = {path: [] for path in lists}
        for w in written:
            path = labels.details["image_list"].get(w.source)
            if path is not None and w.labels:
                entries[path].append(json.loads(read(w.labels[0])))
        files = {}
        for path, info in lists.items():
            as_read = sorted(canonical(e) for e in info["entries"])
            unchanged = sorted(canonical(e) for e in entries[path]) == as_read
            files[path] = info["raw"] if unchanged else self.write(info["extras"], entries[path])
        return files


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _image_of(tree: Tree, path: str, files: list[str], images: set[str], by_name: dict[str, list[str]]) -> str | None:
    """The image an entry names: its path from the list's folder, from ``images/`` beside it, or from the
    dataset's root; else the only image of that file name in the tree (a CSV of the TF Object Detection API
    names images by file name alone)."""
    folder = posixpath.dirname(path)
    for file in files:
        for base in (folder, posixpath.join(folder, "images"), ""):
            rel = inside(tree, base, file)
            if rel in images:
                return rel
    for file in files:
        same = by_name.get(posixpath.basename(file), [])
        if len(same) == 1:
            return same[0]
    return None


def _objects(path: str, entry: dict, index: dict[str, int]) -> Objects:
    """An entry's usable objects; the unusable ones are named (a box with no area, one outside the image)."""
    where = f"{path}: '{entry['file']}'"
    head = {"list": path, "entry": entry}
    shapes = entry["objects"]
    if len(shapes) > MAX_OBJECTS_PER_IMAGE:
        error = f"{where} has {len(shapes):,} objects, over the limit of {MAX_OBJECTS_PER_IMAGE:,}"
        return Objects(head=head, errors=(error,), unreadable=True)
    width, height = entry.get("width"), entry.get("height")
    classes, records, problems = [], [], []
    for number, s in enumerate(shapes, 1):
        x0, y0, x1, y1 = s["box"]
        problem = ""
        if s["kind"] != "points" and (x1 <= x0 or y1 <= y0):
            problem = "no area"
        elif width and height and clip_corners(x0 - POINT, y0 - POINT, x1 + POINT, y1 + POINT, width, height) is None:
            problem = "outside the image"
        if problem:
            problems.append(f"{where} object {number} ({s['label']}, {s['kind']}): {problem}")
            continue
        classes.append(index[s["label"]])
        records.append(s)
    return Objects((), tuple(classes), tuple(records), head, tuple(problems))


def _moved(s: dict, moved: Instances, position: int) -> dict | None:
    """A shape where it moved; None when too little of it is left to be one."""
    if s["kind"] == "polygon" and moved.masks:
        outlines = trace_polygons(moved.masks[position])
        box = mask_box(moved.masks[position])
        if not outlines or box is None:
            return None
        points = [[round(float(x), 2), round(float(y), 2)] for x, y in outlines[0]]
        return {**s, "box": [round(v, 2) for v in box], "points": points}
    if s["kind"] == "points":
        flat = moved.keypoints[position] if moved.keypoints else []
        seen = [[round(flat[k], 2), round(flat[k + 1], 2)] for k in range(0, len(flat), 3)
                if flat[k + 2] > 0]  # fmt: skip
        if not seen:
            return None
        array = np.asarray(seen, np.float64)
        return {**s, "box": [round(v, 2) for v in polygon_box(array)], "points": seen}
    return {**s, "box": [round(float(v), 2) for v in moved.boxes[position]]}
