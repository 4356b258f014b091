"""Segmentation masks: a mask folder beside the image folder, one PNG per image.

A mask is found in a sibling folder named like a mask folder (``masks``, ``PedMasks``,
``SegmentationObject``, ...) under the image's stem, optionally suffixed (``a.png``, ``a_mask.png``).
Its pixels are ids: 0 is background. With a class names file (``classes.txt`` or ``labelmap.txt``, one
name per line, line N naming value N) they are class indices; without one each id is an instance of
one class, ``object`` (PennFudan's pedestrians). Masks move with nearest-neighbour interpolation, so
ids survive every transform; an object's box is the extent of its pixels.
"""

from __future__ import annotations

import dataclasses
import posixpath

import cv2
import numpy as np

from expander.dataset import Item
from expander.labels.files import Tree, read_text
from expander.labels.layout import MASK_FOLDERS
from expander.labels.moving import Labelled, mask_box
from expander.labels.objects import LabelSet, Objects

SUFFIXES = ("", "_mask", "_masks", "-mask", "_seg")
NAMES_FILES = ("classes.txt", "labelmap.txt", "class_names.txt")


def _mask_files(tree: Tree) -> dict[str, str]:
    """Image -> its mask file, for every image that has one."""
    files = set(tree.files)
    found = {}
    for image in tree.images:
        folder, name = posixpath.split(image)
        if posixpath.basename(folder) in MASK_FOLDERS:
            continue
        parent, stem = posixpath.dirname(folder), posixpath.splitext(name)[0]
        for mask_folder in MASK_FOLDERS:
            for suffix in SUFFIXES:
                candidate = posixpath.join(parent, mask_folder, f"{stem}{suffix}.png")
                if candidate in files and candidate != image:
                    found[image] = candidate
                    break
            if image in found:
                break
    return found


def detect(tree: Tree) -> bool:
    return bool(_mask_files(tree))


def scan(tree: Tree) -> tuple[list[Item], LabelSet]:
    from expander.labels.files import split_of

    masks = _mask_files(tree)
    names_file = next((f for f in tree.files if posixpath.basename(f) in NAMES_FILES), None)
    names = tuple(line.strip() for line in read_text(tree.root, names_file).splitlines()) if names_file else ("object",)
    mask_set = set(masks.values())
    items = [Item(image, split_of(image), "", read(tree.root, masks[image], names_file is not None, len(names)))
             for image in tree.images if image in masks]  # fmt: skip
    mask_folders = {posixpath.dirname(m) for m in mask_set}
    orphans = [
        f for f in tree.files if posixpath.dirname(f) in mask_folders and f.endswith(".png") and f not in mask_set
    ]
    return items, LabelSet("masks", names, (names_file,) if names_file else (), tuple(orphans),
                           {"class_masks": names_file is not None})  # fmt: skip


def read(root, mask_file: str, class_masks: bool, classes: int) -> Objects:
    """A mask's objects: one per nonzero value (its class index, or class 0 for instance ids), boxed."""
    mask = cv2.imread(str(root / mask_file), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.ndim != 2:
        return Objects(mask_file, problems=(f"{mask_file}: not a one-channel PNG mask",))
    ids, classes_found, boxes, problems = [], [], [], []
    for value in np.unique(mask):
        if value == 0:
            continue
        if class_masks and value >= classes:
            problems.append(f"{mask_file}: value {value} has no name in the class names file (0-{classes - 1})")
            continue
        box = mask_box(mask == value)
        ids.append(int(value))
        classes_found.append(int(value) if class_masks else 0)
        boxes.append(box)
    return Objects(mask_file, tuple(classes_found), tuple(boxes), tuple(ids), None, tuple(problems))  # type: ignore[arg-type]


def load_masks(root, objects: Objects) -> list[np.ndarray]:
    mask = cv2.imread(str(root / objects.label_file), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f"cannot read mask '{objects.label_file}'")
    return [mask]


def tighten(objects: Objects, moved: Labelled, class_masks: bool) -> Labelled:
    """A moved mask made consistent with the moved boxes, and boxes that are its ids' extents again.

    Instance masks: each object keeps its id's pixels inside its moved box; a mirror image that a
    reflecting border brought in (albumentations returns its box too) becomes an instance of its own
    with a new id; pixels of dropped objects (below --min-visibility) become background. Class masks
    label every pixel and keep their values.
    """
    mask = moved.masks[0]
    if class_masks:
        present = [(i, mask_box(mask == objects.extra[i])) for i in dict.fromkeys(moved.kept)]
        found = [(i, box) for i, box in present if box is not None]
        return dataclasses.replace(moved, boxes=[b for _, b in found], kept=[i for i, _ in found])
    height, width = mask.shape
    out = np.zeros_like(mask)
    next_id = max(objects.extra, default=0) + 1
    boxes: list[tuple[float, ...]] = []
    kept: list[int] = []
    seen: set[int] = set()
    for box, index in zip(moved.boxes, moved.kept, strict=True):
        x0, y0, x1, y1 = (round(v) for v in box)
        value = objects.extra[index]
        new_id = value if index not in seen else next_id
        if new_id > np.iinfo(mask.dtype).max:
            continue
        region = np.zeros_like(out, dtype=bool)
        region[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)] = True
        region &= (mask == value) & (out == 0)
        extent = mask_box(region)
        if extent is None:
            continue
        out[region] = new_id
        next_id += index in seen
        seen.add(index)
        boxes.append(extent)
        kept.append(index)
    return dataclasses.replace(moved, boxes=boxes, kept=kept, masks=[out])


def render(moved: Labelled) -> tuple[bytes, int]:
    """A copy's mask PNG (made consistent by ``tighten``), and the objects in it."""
    mask = moved.masks[0]
    ok, encoded = cv2.imencode(".png", mask)
    if not ok:
        raise ValueError("cannot encode the mask")
    return encoded.tobytes(), len(moved.kept)
