"""Which labelled format a dataset is in, and reading it into a ``scan.Dataset``."""

from __future__ import annotations

from pathlib import Path

from expander.dataset import SPLITS, Dataset
from expander.errors import LayoutError
from expander.labels import coco, masks, voc, yolo
from expander.labels.files import walk
from expander.labels.layout import MASK_FOLDERS, looks_labelled
from expander.labels.objects import FORMATS

MODULES = {"coco": coco, "voc": voc, "yolo": yolo, "masks": masks}  # in the order they are tried


def detect(root: Path) -> str | None:
    """The format of a labelled dataset at ``root``, or None for class folders."""
    if not looks_labelled(root):
        return None
    tree = walk(root)
    return next((name for name, module in MODULES.items() if module.detect(tree)), None)


def scan_labelled(root: Path, format: str) -> Dataset:
    """Read a labelled dataset: its images, each image's objects, and the class names.

    Raises:
        LayoutError: no image with labels in the expected layout.
    """
    if format not in FORMATS:
        raise LayoutError(f"Unknown label format '{format}'. Choose one of: {', '.join(FORMATS)}.")
    tree = walk(root)
    items, labels = MODULES[format].scan(tree)
    if not items:
        raise LayoutError(f"No labelled images found in '{root}' as {format}. {LAYOUTS[format]}")
    splits = tuple(s for s in (*SPLITS, None) if any(i.split == s for i in items))
    ignored = dict(tree.ignored)
    return Dataset(root=root, splits=splits, classes=labels.names, items=tuple(items), ignored=ignored,
                   rejected=tuple(tree.rejected), folders=tuple(tree.folders), labels=labels)  # fmt: skip


LAYOUTS = {
    "yolo": "Expected images/ and labels/*.txt folders (e.g. train/images + train/labels), class names in data.yaml.",
    "coco": "Expected an annotation JSON (e.g. train/_annotations.coco.json or annotations/instances_train.json) "
    "whose file_name entries are found beside it or in a split folder.",
    "voc": "Expected Annotations/*.xml beside JPEGImages/, optionally ImageSets/Main/<split>.txt.",
    "masks": f"Expected a mask folder ({', '.join(MASK_FOLDERS)}) beside the image folder with one PNG per "
    "image named after it (a.png or a_mask.png).",
}
