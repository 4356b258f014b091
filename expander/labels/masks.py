"""Segmentation masks: one mask PNG per image, in a mask folder that mirrors the image folder.

A mask is found where its image's path has one folder renamed to a mask folder (``masks``, ``PedMasks``,
``SegmentationObject``, ...) and the image's stem, optionally suffixed (``a.png``, ``a_mask.png``): so both
``<split>/images`` + ``<split>/masks`` and ``images/<split>`` + ``masks/<split>`` are read, and PennFudan's
``PNGImages`` + ``PedMasks``; a mask folder may also be named after its image folder (CamVid's ``train`` +
``trainannot``, ``images_prepped_train`` + ``annotations_prepped_train``, whose split is read from the end of
the name). Its pixels are ids: 0 is background. With a class names file (``classes.txt``
or ``labelmap.txt``, one name per line, line N naming value N) they are class indices (255 is a void border,
never an object); without one each id is an instance of one class, ``object``. Grey and palette PNGs are
read (a palette is kept in the copies). Masks move with nearest-neighbour interpolation, so ids survive
every transform; an object's box is the extent of its pixels.

An image in an image folder without a mask is a background image: copied, augmented when asked, and its
copies get an empty mask. A mask's size is read from its header first: one over the pixel limit is never
decoded, one of another size than its image fails that image's copies (the original is still copied).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections import Counter
from typing import Any

import numpy as np

from expander import images
from expander.dataset import AUGMENTED_SPLIT, MASK_FOLDERS, Item, split_role
from expander.errors import LayoutError
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read
from expander.labels.instances import Instances, mask_box, read_label_image, write_label_image
from expander.labels.tree import MAX_DATASET_FILE_BYTES, Tree, renamed_label, split_of, stem
from expander.plan import Output
from expander.textfiles import TextFileError

SUFFIXES = ("", "_mask", "_masks", "-mask", "_seg")
SPLIT_SUFFIX = re.compile(r"[-_](train|val|valid|validation|test)$", re.IGNORECASE)
NAMES_FILES = ("classes.txt", "labelmap.txt", "class_names.txt", "labelmap.csv")
VOID = 255  # a class mask's border value (VOC's): never an object


class Masks(LabelFormat):
    name = "masks"
    description = (
        f"a mask folder ({', '.join(MASK_FOLDERS)}) mirroring the image folder, one PNG per image named after it "
        "(a.png or a_mask.png): <split>/images + <split>/masks, or images/<split> + masks/<split>"
    )

    def coverage(self, tree: Tree) -> int:
        return len(_mask_files(tree))

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        masks = _mask_files(tree)
        names_file = next((f for f in tree.files if posixpath.basename(f) in NAMES_FILES), None)
        names = _names(tree, names_file) if names_file else ("object",)
        beside = {posixpath.dirname(i): i for i in masks}  # an image with a mask, per image folder
        mask_set = set(masks.values())
        labelled_splits = {_split(i) for i in masks}
        items, background, unlabelled = [], 0, Counter[str | None]()
        for image in tree.images:
            folder, split = posixpath.dirname(image), _split(image)
            if image in mask_set:
                continue
            if folder not in beside:
                if masks and split not in labelled_splits and split != AUGMENTED_SPLIT:  # test/ without masks: kept
                    items.append(Item(image, split, "", Objects()))
                    unlabelled[split] += 1
                continue  # elsewhere an image that is not part of the layout: expander.inventory refuses it
            if image in masks:
                objects = read_mask(tree, masks[image], names_file is not None, len(names), image)
            else:  # where its mask would be, by the rule its folder's other images follow
                objects = Objects(head={"mask": renamed_label(masks[beside[folder]], beside[folder], image)})
                background += 1
            items.append(Item(image, split, "", objects))
        mask_folders = {posixpath.dirname(m) for m in mask_set}
        orphans = [
            f for f in tree.files if posixpath.dirname(f) in mask_folders and f.endswith(".png") and f not in mask_set
        ]
        notes = [f"{background} image(s) have no mask: background images, their copies get an empty mask"] * bool(
            background
        ) + [f"{split}/ has no masks: its {n} image(s) are copied unchanged" for split, n in unlabelled.items()]
        details = {"class_masks": names_file is not None}
        return items, LabelSet("masks", names, (names_file,) if names_file else (), tuple(orphans), tuple(notes), (),
                               details)  # fmt: skip

    def worker_settings(self, labels: LabelSet) -> dict[str, Any]:
        return {"class_masks": labels.details["class_masks"]}

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        if not objects.label_files:  # a background image: an empty mask moves with it
            return Instances(label_images=[np.zeros((height, width), np.uint8)], label_info=[None])
        path = objects.label_files[0]
        data = read(path)
        size = images.header_size(data, path)
        if size is not None and size != (width, height):  # from its header: never decoded at another size
            raise ValueError(f"mask '{path}' is {size[0]}x{size[1]}, its image {width}x{height}")
        values, palette = read_label_image(data, path)
        if values.shape != (height, width):
            raise ValueError(f"mask '{path}' is {values.shape[1]}x{values.shape[0]}, its image {width}x{height}")
        boxes = [mask_box(values == value) or (0.0, 0.0, 0.0, 0.0) for value in objects.records]
        return Instances(list(objects.classes), boxes, list(range(objects.count)), label_images=[values],
                         label_info=[palette])  # fmt: skip

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        if objects is not None and objects.label_files:
            return (renamed_label(objects.label_files[0], source, output),)
        if output == source or objects is None or not objects.head:
            return ()  # an original background image stays without a mask
        return (renamed_label(objects.head["mask"], source, output),)

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        tight = tighten(objects, moved, settings["class_masks"])
        return {paths[0]: write_label_image(tight.label_images[0], tight.label_info[0])}, list(tight.classes)

    def roles(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        return ("mask",) * len(paths)

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        values, _ = read_label_image(next(iter(files.values())), "mask")
        present = set(np.unique(values).tolist()) - {0}
        if labels.details.get("class_masks"):
            return {v: 1 for v in present if v != VOID and v < len(labels.names)}
        return {0: len(present)} if present else {}

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        for name, data in files.items():
            try:
                values, _ = read_label_image(data, name)
            except (ValueError, OSError) as e:
                return str(e)
            if values.shape != (height, width):
                return f"the mask is {values.shape[1]}x{values.shape[0]}, not its image's {width}x{height}"
        return ""


def read_mask(tree: Tree, mask_file: str, class_masks: bool, classes: int, image: str) -> Objects:
    """A mask's objects: one per nonzero value (its class index, or class 0 for instance ids), read from its
    header first so that a mask over the pixel limit is never decoded. A mask that is not its image's size is
    an error of the labels (found here, before anything is written), not of the image."""
    try:
        data = tree.read(mask_file)
        images.check_pixels(images.header_size(data, mask_file), tree.max_pixels)
        values, _ = read_label_image(data, mask_file)
        problem = _size_problem(tree, image, values.shape)
    except (OSError, TextFileError, ValueError, images.DecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else str(e)
        problem = f"cannot be read as a mask: {reason}"
    if problem:
        return Objects((mask_file,), errors=(f"{mask_file}: {problem}",), unreadable=True)
    ids, found, problems = [], [], []
    for value in np.unique(values).tolist():
        if value == 0 or (class_masks and value == VOID):
            continue
        if class_masks and value >= classes:
            problems.append(f"{mask_file}: value {value} has no name in the class names file (0-{classes - 1})")
            continue
        ids.append(int(value))
        found.append(int(value) if class_masks else 0)
    return Objects((mask_file,), tuple(found), tuple(ids), problems=tuple(problems))


HEADER_BYTES = 256 * 1024  # enough for a JPEG's SOF after its EXIF block (at most 64 KB) and other APP blocks


def _size_problem(tree: Tree, image: str, shape: tuple[int, ...]) -> str:
    """Why a mask of ``shape`` cannot be its image's ("" when it can, or when the image's header says nothing:
    the worker then compares decoded sizes). EXIF orientation may swap a JPEG's stored sides, so both count."""
    try:
        size = images.header_size(tree.store.head(image, HEADER_BYTES), image)
    except OSError:
        return ""  # the image itself will fail, with its own reason
    if size is None or (shape[1], shape[0]) in (size, size[::-1]):
        return ""
    return f"the mask is {shape[1]}x{shape[0]}, its image {image} {size[0]}x{size[1]}"


def tighten(objects: Objects, moved: Instances, class_masks: bool) -> Instances:
    """A moved mask made consistent with the moved boxes, and boxes that are its ids' extents again.

    Instance masks: each object keeps its id's pixels inside its moved box; a mirror image that a reflecting
    border brought in (albumentations returns its box too) becomes an instance of its own with a new id;
    pixels of dropped objects (below --min-visibility) become background. Class masks label every pixel and
    keep their values.
    """
    mask = moved.label_images[0]
    if class_masks:
        present = [(i, mask_box(mask == objects.records[i])) for i in dict.fromkeys(moved.index)]
        found = [(i, box) for i, box in present if box is not None]
        positions = [moved.index.index(i) for i, _ in found]
        kept = moved.select(positions)
        return dataclasses.replace(kept, boxes=[b for _, b in found])
    height, width = mask.shape
    out = np.zeros_like(mask)
    next_id = max(objects.records, default=0) + 1
    boxes, keep, seen = [], [], set()
    for position, (box, index) in enumerate(zip(moved.boxes, moved.index, strict=True)):
        x0, y0, x1, y1 = (round(v) for v in box)
        value = objects.records[index]
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
        keep.append(position)
    kept = moved.select(keep)
    return dataclasses.replace(kept, boxes=boxes, label_images=[out])


def _mask_files(tree: Tree) -> dict[str, str]:
    """Image -> its mask file, for every image that has one: one folder of its path renamed to a mask folder."""
    files = set(tree.files)
    found = {}
    for image in tree.images:
        parts = image.split("/")
        if any(p in MASK_FOLDERS for p in parts[:-1]):
            continue
        image_stem = stem(image)
        for i in range(len(parts) - 2, -1, -1):
            for folder in MASK_FOLDERS:
                for suffix in SUFFIXES:
                    candidate = "/".join([*parts[:i], folder, *parts[i + 1 : -1], f"{image_stem}{suffix}.png"])
                    if candidate in files and candidate != image:
                        found[image] = candidate
                        break
                if image in found:
                    break
            if image in found:
                break
        if image not in found:  # <name>_mask.png beside <name>.png
            for suffix in SUFFIXES[1:]:
                candidate = "/".join([*parts[:-1], f"{image_stem}{suffix}.png"])
                if candidate in files:
                    found[image] = candidate
                    break
        if image not in found and len(parts) > 1:  # a mask folder beside the image folder (PNGImages + PedMasks)
            parent = "/".join(parts[:-2])
            for folder in (*MASK_FOLDERS, *_named_after(parts[-2])):
                for suffix in SUFFIXES:
                    candidate = posixpath.join(parent, folder, f"{image_stem}{suffix}.png")
                    if candidate in files and candidate != image:
                        found.setdefault(image, candidate)
    return found


def _named_after(folder: str) -> list[str]:
    """Mask folders named after their image folder: SegNet's CamVid (``train`` + ``trainannot``) and
    image-segmentation-keras' (``images_prepped_train`` + ``annotations_prepped_train``)."""
    named = [f"{folder}annot", f"{folder}_annot", f"{folder}_masks", f"{folder}_labels"]
    for word in ("images", "imgs", "image", "img"):
        if word in folder:
            named += [folder.replace(word, mask, 1) for mask in ("annotations", "masks", "labels", "mask", "label")]
    return named


def _split(image: str) -> str | None:
    """An image's split: from a folder named like one, else from the end of its folder's name
    (``images_prepped_test`` -> ``test``)."""
    match = SPLIT_SUFFIX.search(posixpath.basename(posixpath.dirname(image)))
    return split_of(image) or (split_role(match[1].lower()) if match else None)


def _names(tree: Tree, names_file: str) -> tuple[str, ...]:
    """A names file's names, line N naming value N; a ``labelmap.csv`` (Kaggle's and datumaro's: a ``name,r,g,b``
    header, then a row per class index) by its first column."""
    try:
        lines = [line.strip() for line in tree.text(names_file, MAX_DATASET_FILE_BYTES).splitlines()]
    except (OSError, TextFileError) as e:
        raise LayoutError(f"Cannot read class names file '{tree.where(names_file)}': {e}. Fix the file.") from None
    if names_file.endswith(".csv"):
        lines = [line.split(",")[0].strip() for line in lines[1:] if line]
    return tuple(lines)
