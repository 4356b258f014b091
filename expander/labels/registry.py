"""The label formats, in the order they are tried on a dataset: adding a format is one module and one line here.

Names map to where each format's class lives, so ``expander --help`` can list them without importing any
(``NAMES``); ``get`` imports a format when a run needs it.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from expander.labels.base import LabelFormat
    from expander.labels.tree import Tree

# name -> "module:class", in detection order: the most specific layouts first (a VOC dataset has mask folders
# too; a YOLO pose or segmentation dataset is a YOLO layout whose lines say more).
_FORMATS = {
    "coco": "expander.labels.coco:Coco",
    "voc": "expander.labels.voc:Voc",
    "labelme": "expander.labels.labelme:LabelMe",
    "cvat": "expander.labels.cvat:Cvat",
    "labelstudio": "expander.labels.labelstudio:LabelStudio",
    "createml": "expander.labels.createml:CreateMl",
    "csv": "expander.labels.csvboxes:CsvBoxes",
    "hf-metadata": "expander.labels.hfmetadata:HfMetadata",
    "yolo-pose": "expander.labels.yolo:YoloPose",
    "yolo-obb": "expander.labels.yolo:YoloObb",
    "yolo-segment": "expander.labels.yolo:YoloSegment",
    "yolo": "expander.labels.yolo:YoloDetect",
    "darknet": "expander.labels.darknet:Darknet",
    "kitti": "expander.labels.kitti:Kitti",
    "masks": "expander.labels.masks:Masks",
}
NAMES = tuple(_FORMATS)
# the formats --to writes (expander.labels.convert.TARGETS): a converted run's format is "<source>><target>"
TARGETS = ("yolo", "yolo-segment", "yolo-pose", "voc", "labelme", "coco", "csv", "createml", "cvat", "labelstudio")
_loaded: dict[str, LabelFormat] = {}


def register(name: str, where: str) -> None:
    """Add a format (``"package.module:Class"``); a name registered twice is a mistake worth a warning (timm)."""
    if name in _FORMATS:
        warnings.warn(f"label format {name!r} is registered twice; the later one ({where}) wins", stacklevel=2)
    _FORMATS[name] = where
    _loaded.pop(name, None)


def get(name: str) -> LabelFormat:
    """The format called ``name`` (KeyError for an unknown one: options are checked before this); ``voc>yolo``
    reads as voc and writes as yolo (``--to``)."""
    if name not in _loaded and ">" in name:
        source, target = name.split(">", 1)
        convert = importlib.import_module("expander.labels.convert")
        _loaded[name] = convert.Converted(get(source), convert.TARGETS[target])
    if name not in _loaded:
        module, cls = _FORMATS[name].split(":")
        _loaded[name] = getattr(importlib.import_module(module), cls)()
    return _loaded[name]


def detect(tree: Tree) -> LabelFormat | None:
    """The format that labels the most images of the tree (the first in order on a tie), or None (class
    folders)."""
    best, most = None, 0
    for name in _FORMATS:
        found = get(name).coverage(tree)
        if found > most:
            best, most = get(name), found
    return best
