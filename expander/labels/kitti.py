"""KITTI object detection: ``training/image_2/<id>.png`` beside ``training/label_2/<id>.txt``, a line per object:
``type truncated occluded alpha left top right bottom height width length x y z rotation_y`` (a 16th value, a
score, in results). ``testing/`` has images and no labels: it is kept as the test split, copied unchanged.

The 2D box (pixel corners) moves with the pixels. The 3D values (alpha, dimensions, location, rotation_y) say
where the object is in the camera's world, which a 2D change of the picture does not keep: a copy's lines give
them KITTI's own "unknown" values (as its DontCare lines have: alpha -10, dimensions -1, location -1000,
rotation_y -10). ``truncated`` and ``occluded`` are the source's. Originals' label files are copied byte for
byte.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from expander.dataset import Item, natural_key
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read
from expander.labels.evidence import examine
from expander.labels.instances import Instances, box_fits, clip_corners
from expander.labels.tree import Tree, split_of, stem
from expander.limits import MAX_OBJECTS_PER_IMAGE
from expander.plan import Output
from expander.textfiles import TextFileError, decode_text

IMAGES, LABELS = re.compile(r"image_(\d)"), "label_{}"
# KITTI's DontCare values for what a 2D change of the picture does not keep: alpha; h w l, x y z, rotation_y
UNKNOWN_ALPHA, UNKNOWN_3D = "-10", "-1 -1 -1 -1000 -1000 -1000 -10"
SPLITS = {"training": "train", "testing": "test"}


class Kitti(LabelFormat):
    name = "kitti"
    description = "training/image_2/<id>.png beside training/label_2/<id>.txt (KITTI object detection)"

    def coverage(self, tree: Tree) -> int:
        pairs = _pairs(tree)
        first = next(iter(pairs.values()), None)
        found = examine(tree, first) if first else None
        return len(pairs) if found is not None and found.reads_as == self.name else 0

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        pairs = _pairs(tree)
        parsed = {image: _parse(tree, label) for image, label in pairs.items()}
        names = tuple(sorted({t for lines in parsed.values() for t, _ in lines[0]}, key=natural_key))
        index = {n: i for i, n in enumerate(names)}
        folders = {posixpath.dirname(i) for i in pairs}
        labelled_splits = {_split(i) for i in pairs}
        items, unlabelled = [], 0
        for image in tree.images:
            if image in parsed:
                lines, errors = parsed[image]
                items.append(Item(image, _split(image), "", Objects(
                    (pairs[image],), tuple(index[t] for t, _ in lines), tuple(fields for _, fields in lines),
                    errors=tuple(errors), unreadable=bool(errors) and not lines)))  # fmt: skip
            elif posixpath.dirname(image) in folders:
                items.append(Item(image, _split(image), "", Objects()))  # a background image
            elif IMAGES.fullmatch(posixpath.basename(posixpath.dirname(image)) or "") and _split(image) not in (
                labelled_splits | {"train"}
            ):
                items.append(Item(image, _split(image), "", Objects()))  # testing/: no labels, copied unchanged
                unlabelled += 1
        notes = [f"{unlabelled} image(s) of a split without labels (testing/): copied unchanged"] if unlabelled else []
        items.sort(key=lambda i: natural_key(i.rel_path))
        return items, LabelSet(self.name, names, notes=tuple(notes))

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        boxes = [tuple(float(v) for v in fields[4:8]) for fields in objects.records]
        return Instances(list(objects.classes), boxes, list(range(objects.count)))  # type: ignore[arg-type]

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        if objects is not None and objects.label_files:
            return (posixpath.join(posixpath.dirname(objects.label_files[0]), f"{stem(output)}.txt"),)
        label = _label_of(output)
        return () if output == source or label is None else (label,)

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        lines = []
        for source_index, box in zip(moved.index, moved.boxes, strict=True):
            fields = objects.records[source_index]
            corners = " ".join(f"{v:.2f}" for v in box)
            lines.append(f"{' '.join(fields[:3])} {UNKNOWN_ALPHA} {corners} {UNKNOWN_3D}")  # type truncated occluded
        return {paths[0]: "".join(f"{line}\n" for line in lines).encode()}, list(moved.classes)

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        index = {n: i for i, n in enumerate(labels.names)}
        found: dict[int, int] = {}
        for data in files.values():
            for line in data.decode("utf-8", "replace").splitlines():
                if line.strip():
                    class_id = index.get(line.split()[0], -1)
                    found[class_id] = found.get(class_id, 0) + 1
        return found

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        for name, data in files.items():
            try:
                text = decode_text(data)
            except TextFileError as e:
                return f"{name}: {e}"
            for number, line in enumerate(text.splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                problem = _line_problem(fields)
                if problem:
                    return f"{name} line {number}: {problem}"
                if fields[0] not in labels.names:
                    return f"{name} line {number}: type {fields[0]!r} is not one of the dataset's"
                x0, y0, x1, y1 = (float(v) for v in fields[4:8])
                if not box_fits(x0, y0, x1, y1, width, height):
                    return f"{name} line {number}: its box is not inside the {width}x{height} image"
        return ""


def _pairs(tree: Tree) -> dict[str, str]:
    """Image -> its label file, for every image of an ``image_N`` folder with one in ``label_N`` beside it."""
    if "kitti" not in tree.cache:
        files = set(tree.files)
        found = {}
        for image in tree.images:
            label = _label_of(image)
            if label is not None and label in files:
                found[image] = label
        tree.cache["kitti"] = found
    return tree.cache["kitti"]


def _label_of(image: str) -> str | None:
    folder = posixpath.dirname(image)
    match = IMAGES.fullmatch(posixpath.basename(folder))
    if match is None:
        return None
    return posixpath.join(posixpath.dirname(folder), LABELS.format(match[1]), f"{stem(image)}.txt")


def _split(image: str) -> str | None:
    """``training/`` is the train split, ``testing/`` the test split; else the split its folders name."""
    named = [SPLITS[part] for part in image.split("/")[:-1] if part in SPLITS]
    return named[0] if named else split_of(image)


def _parse(tree: Tree, label: str) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
    """(type, the line's fields) per usable line, and the errors."""
    try:
        text = tree.text(label)
    except (OSError, TextFileError) as e:
        return [], [f"{label}: cannot be read: {e.strerror if isinstance(e, OSError) else e}"]
    lines, errors = [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        problem = _line_problem(fields)
        if problem:
            errors.append(f"{label} line {number}: {problem}")
            continue
        x0, y0, x1, y1 = (float(v) for v in fields[4:8])
        if clip_corners(x0, y0, x1, y1, float("inf"), float("inf")) is None:
            errors.append(f"{label} line {number}: a box with no area ({x0:g} {y0:g} {x1:g} {y1:g})")
            continue
        lines.append((fields[0], tuple(fields)))
    if len(lines) > MAX_OBJECTS_PER_IMAGE:
        return [], [f"{label}: {len(lines):,} objects, more than the {MAX_OBJECTS_PER_IMAGE:,} an image may have"]
    return lines, errors


def _line_problem(fields: list[str]) -> str:
    if len(fields) not in (15, 16):
        return f"{len(fields)} values; a KITTI line has 15 (type, then 14 numbers), 16 with a score"
    try:
        [float(v) for v in fields[1:]]
    except ValueError:
        return "values after the type that are not numbers"
    return ""
