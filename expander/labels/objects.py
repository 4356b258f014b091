"""Plain data for labels: one image's ``Objects`` and a dataset's ``LabelSet``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FORMATS = ("yolo", "coco", "voc", "masks")
# Box layout per format, in albumentations' names: YOLO is normalised centre/size, COCO pixel
# x/y/width/height, VOC and masks pixel corners.
BOX_FORMATS = {"yolo": "yolo", "coco": "coco", "voc": "pascal_voc", "masks": "pascal_voc"}


@dataclass(frozen=True)
class Objects:
    """One image's labels, as read. Objects that cannot be used (degenerate boxes, unknown class ids)
    are left out of ``boxes`` and named in ``problems``; the source label file is never changed.

    ``extra`` and ``head`` keep what the format stores besides boxes, so a copy's label file keeps it:
    per object, COCO's annotation dict or VOC's ``<object>`` element as text; per image, COCO's image
    entry or VOC's annotation document without its objects.
    """

    label_file: str | None  # the source label file (relative to the dataset root); None for COCO
    classes: tuple[int, ...] = ()  # class index per object, into LabelSet.names
    boxes: tuple[tuple[float, float, float, float], ...] = ()  # per object, in the format's box layout
    extra: tuple[Any, ...] = ()
    head: Any = None
    problems: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """How many usable objects the image has (0 for a background image)."""
        return len(self.classes)


@dataclass(frozen=True)
class LabelSet:
    """What a labelled dataset is, beyond its images."""

    format: str  # one of FORMATS
    names: tuple[str, ...]  # class names, by class index
    files: tuple[str, ...] = ()  # dataset-level label files read (data.yaml, COCO JSON, ImageSets lists)
    orphans: tuple[str, ...] = ()  # label files with no image
    details: dict[str, Any] = field(default_factory=dict, hash=False)  # what the format's finish() needs

    @property
    def box_format(self) -> str:
        return BOX_FORMATS[self.format]


def problems(items) -> list[str]:
    """Every label problem found reading a dataset's items (``scan.Item``), in item order."""
    return [p for item in items if item.objects is not None for p in item.objects.problems]
