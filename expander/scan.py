"""Folder tree -> Dataset: which images exist, in which split and class, and what every other file is.

One listing of the source (``expander.labels.tree.walk``, a folder or an object store) is read by a label
format (detected, or named by ``--labels``) or, when none applies, as class folders:

* class folders: ``SRC/<class>/<image>``
* split folders: ``SRC/{train,val,test}/<class>/<image>`` (any subset of the three; the validation
  split may also be named ``valid`` or ``validation``, as Roboflow and others export it)

Then every file is accounted for (``expander.inventory``): hidden entries and files that are neither images
nor labels are ignored with a reason, never an error; files that hold labels which nothing reads stop the run.
Sorting is natural (``img2`` before ``img10``) so listings read the way people expect.

Links: a link to an image or a folder is followed wherever it points (a dataset of links into a photo
library is common, and the input is only ever read); broken links and link loops are ignored and
counted. ``Dataset.folders`` holds the real location of every folder read, so the output folder can
be refused when it resolves into any of them through a link. A file whose name is not valid UTF-8 is
not processed: it is listed in ``Dataset.rejected`` with the reason (manifests and summaries are UTF-8).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from expander import inventory
from expander.dataset import (
    IMAGE_EXTENSIONS,
    LABEL_MARKER_NAME,
    LABEL_MARKERS,
    LABEL_SUFFIXES,
    RUN_RECORDS,
    SPLITS,
    UNLISTED,
    Dataset,
    Item,
    natural_key,
)
from expander.errors import LayoutError
from expander.labels import registry
from expander.labels.tree import walk
from expander.limits import DEFAULT_MAX_PIXELS
from expander.storage import is_url

if TYPE_CHECKING:
    from expander.labels.base import LabelFormat
    from expander.labels.tree import Tree

_LAYOUT_HELP = (
    "Expected class folders, SRC/<class>/<image>, or split folders, "
    "SRC/{train,val,test}/<class>/<image> (val may be named valid or validation). "
    f"Supported extensions (any case): {' '.join(IMAGE_EXTENSIONS)}."
)


def scan(root: str | os.PathLike, labels: str | None = "auto", max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Dataset:
    """Scan ``root`` and return its images grouped by split and class, with every file accounted for.

    Args:
        root: the dataset folder, or an object-store URL.
        labels: ``"auto"`` detects a labelled dataset (YOLO, COCO, VOC, masks; see expander.labels) and reads
            class folders when none is there, unless files that hold labels are (then it refuses: see
            expander.inventory); a format name (``expander.labels.registry.NAMES``) reads that format; "none"
            (``--labels none``; None too) reads class folders and lists label files as ignored.
        max_pixels: label images (masks) over this many pixels are refused from their header, as images are.

    Raises:
        LayoutError: the folder is missing or holds no images, the layout is mixed, or it holds labels (or
            images) that no reader takes.
    """
    if not is_url(root):
        root = Path(root)
        if not root.exists():
            raise LayoutError(f"Source folder '{root}' does not exist. {_LAYOUT_HELP}")
        if not root.is_dir():
            raise LayoutError(f"Source '{root}' is not a folder. {_LAYOUT_HELP}")
    labels = labels or "none"
    tree = walk(root, max_pixels)
    chosen = None
    if labels != "none":
        chosen = registry.get(labels) if labels != "auto" else registry.detect(tree) if _looks_labelled(tree) else None
    dataset = _scan_labelled(tree, chosen) if chosen is not None else None
    claimed = (
        set()
        if dataset is None
        else (
            {i.rel_path for i in dataset.items} | inventory.label_files(dataset) | set(dataset.labels.orphans)  # type: ignore[union-attr]
        )
    )
    evidence = inventory.label_files_nobody_reads(tree, claimed)
    if dataset is None:
        if labels != "none":
            inventory.refuse_unread(tree, evidence)
        dataset = _class_folders(tree)
    return inventory.account(tree, dataset, evidence, labels)


def _looks_labelled(tree: Tree) -> bool:
    """Cheap test on the listing: does any folder or file look like labels? A class-folder dataset of a million
    images then never tries a format (files that hold labels are still looked at: expander.inventory)."""
    dirs = {part for d in tree.dirs for part in d.split("/")}
    return (
        bool(dirs & LABEL_MARKERS)
        or any(LABEL_MARKER_NAME.fullmatch(d) for d in dirs)
        or any(f.endswith(LABEL_SUFFIXES) and f not in RUN_RECORDS for f in tree.files)
    )


def _scan_labelled(tree: Tree, chosen: LabelFormat) -> Dataset:
    """A labelled dataset read by its format."""
    items, label_set = chosen.read(tree)
    if not items:
        raise LayoutError(f"No labelled images found in '{tree.location}' as {chosen.name}. Expected "
                          f"{chosen.description}.")  # fmt: skip
    order = (*SPLITS, UNLISTED, None)
    splits = tuple(s for s in order if any(i.split == s for i in items))
    return Dataset(root=tree.root, splits=splits, classes=label_set.names, items=tuple(items),
                   rejected=tuple(tree.rejected), folders=tuple(tree.folders), labels=label_set,
                   url=tree.url)  # fmt: skip


def _class_folders(tree: Tree) -> Dataset:
    """Class or split folders read from the listing: images one level below their class folder.

    Raises:
        LayoutError: no images, images outside class folders, or split folders mixed with others.
    """
    where = tree.location
    top_dirs = [d for d in tree.dirs if "/" not in d]
    split_dirs = _top_level(where, top_dirs, [f for f in tree.images if "/" not in f])
    splits: tuple[str | None, ...] = tuple(s for s in SPLITS if s in split_dirs) or (None,)
    depth = 3 if split_dirs else 2
    for split in split_dirs:
        stray = [f for f in tree.images if f.count("/") == 1 and f.startswith(f"{split}/")]
        if stray:
            raise LayoutError(
                f"Found {len(stray)} image(s) directly in '{tree.where(split)}' (e.g. '{stray[0].split('/')[1]}'); "
                f"move them into a folder named after their class. {_LAYOUT_HELP}"
            )
    classes = {d.split("/")[-1] for d in tree.dirs if d.count("/") == depth - 2}
    items = [Item(f, f.split("/")[0] if split_dirs else None, f.split("/")[-2]) for f in tree.images
             if f.count("/") == depth - 1]  # fmt: skip
    if not items:
        raise LayoutError(f"No images found in '{where}'. {_LAYOUT_HELP}")
    # The listing is in natural order already, and so is each class's run of it: a stable sort by split and class
    # keeps it (a second natural key per path cost 3x the whole scan of 100,000 images).
    ranks = {c: n for n, c in enumerate(sorted(classes | {i.class_name for i in items}, key=natural_key))}
    order = {s: n for n, s in enumerate(splits)}
    items.sort(key=lambda i: (order[i.split], ranks[i.class_name]))
    return Dataset(root=tree.root, splits=splits, classes=tuple(sorted(classes, key=natural_key)),
                   items=tuple(items), rejected=tuple(tree.rejected), folders=tuple(tree.folders),
                   url=tree.url)  # fmt: skip


def _top_level(where: str, folders: list[str], images: list[str]) -> list[str]:
    """The split folders among the top-level ``folders``, once the top level is checked.

    Raises:
        LayoutError: images at the top level, or split folders mixed with other folders.
    """
    if images:
        raise LayoutError(
            f"Found {len(images)} image(s) directly in '{where}' (e.g. '{images[0]}'); "
            f"move them into a folder named after their class. {_LAYOUT_HELP}"
        )
    split_dirs = [d for d in folders if d in SPLITS]
    if split_dirs and len(split_dirs) != len(folders):
        others = ", ".join(d for d in folders if d not in SPLITS)
        raise LayoutError(
            f"'{where}' mixes split folders ({', '.join(split_dirs)}) with other folders ({others}). {_LAYOUT_HELP}"
        )
    return split_dirs
