"""A labelled output's files: the image and its label file, made from the source's pixels and objects.

``execute.Worker`` hands labelled jobs here. ``label_path`` is also how the main process names each
output's label file in the manifest, so the two can never disagree.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from expander import images
from expander.labels import coco, masks, voc, yolo
from expander.labels.files import renamed_label
from expander.labels.moving import Labelled, move, resized, start
from expander.labels.objects import BOX_FORMATS, LabelSet, Objects
from expander.plan import Job, Output


@dataclass(frozen=True)
class LabelOptions:
    """How labels are handled in a run (``--labels``, ``--min-visibility``, ``--keep-empty``)."""

    format: str
    min_visibility: float = 0.1
    keep_empty: bool = False
    class_masks: bool = False  # masks whose values are classes, not instance ids (a class names file exists)

    @property
    def box_format(self) -> str:
        return BOX_FORMATS[self.format]

    @classmethod
    def of(cls, labels: LabelSet, min_visibility: float = 0.1, keep_empty: bool = False) -> LabelOptions:
        return cls(labels.format, min_visibility, keep_empty, bool(labels.details.get("class_masks")))


class EmptyCopy(Exception):
    """Every object of the source left this copy; it is recorded, not written as a background image."""


@dataclass(frozen=True)
class Written:
    """An output's files: label first, then the image (an image on disk implies its label is too)."""

    image: bytes
    label: bytes | None
    objects: int


def label_path(format: str, job: Job, output: str) -> str | None:
    """The label file an output of ``job`` gets (None: an original background image without one)."""
    objects = job.objects
    if format == "coco":
        return coco.fragment_path(output)
    if format == "yolo":
        if objects is None or objects.label_file is None:
            return None if output == job.source else yolo.label_path(output)
        return renamed_label(objects.label_file, job.source, output)
    if objects is None or objects.label_file is None:
        return None
    return renamed_label(objects.label_file, job.source, output)


class LabelledSource:
    """One source, decoded once, with its labels in the frame every output starts from."""

    def __init__(self, options: LabelOptions, src: Path, job: Job, data: bytes, order: str, size, max_pixels):
        self.options, self.src, self.job, self.data = options, src, job, data
        self.objects: Objects = job.objects or Objects(None)
        image = images.decode(data, job.source, order, max_pixels)
        labelled = start(self.objects, image, [], options.box_format)
        labelled.masks = self._masks(labelled.kept, image.shape[:2])
        labelled.mask_per_object = options.format == "coco" and bool(labelled.masks)
        self.labelled = resized(labelled, size, options.box_format) if size else labelled
        self.resized = size is not None
        self.class_masks = options.class_masks

    def _masks(self, kept: list[int], shape: tuple[int, int]) -> list[np.ndarray]:
        if self.options.format == "masks" and self.objects.label_file:
            found = masks.load_masks(self.src, self.objects)
            if found[0].shape != shape:
                raise ValueError(f"mask '{self.objects.label_file}' is {found[0].shape[1]}x{found[0].shape[0]}, "
                                 f"its image {shape[1]}x{shape[0]}")  # fmt: skip
            return found
        if self.options.format == "coco":
            return coco.load_masks(self.objects, kept, *shape)
        return []

    def output(self, out: Output, augmenter, quality: int, order: str) -> Written:
        """The files of one output. Originals not resized are copied byte for byte, labels too."""
        original = out.copy_index is None
        if original and not self.resized:
            return Written(self.data, self._source_label(out), self.objects.count)  # its usable objects
        result = self.labelled if original else self.copy(augmenter, out.seed or 0)
        if self.labelled.kept and not result.kept and not original and not self.options.keep_empty:
            raise EmptyCopy(f"all {len(self.labelled.kept)} objects left the image (--keep-empty writes it)")
        label, objects = self._render(out, result, original)
        image = images.encode(result.image, images.format_of(out.rel_path), quality, order)
        return Written(image, label, objects)

    def copy(self, augmenter, seed: int) -> Labelled:
        """The source moved by the pipeline with ``seed``; a mask's boxes are its ids' extents again."""
        result = move(augmenter, self.labelled, seed)
        if self.options.format == "masks":
            return masks.tighten(self.objects, result, self.class_masks)
        return result

    def _source_label(self, out: Output) -> bytes | None:
        if self.options.format == "coco":
            return coco.source_fragment(self.objects)
        if self.objects.label_file is None:
            return None
        return (self.src / self.objects.label_file).read_bytes()

    def _render(self, out: Output, result: Labelled, original: bool) -> tuple[bytes, int]:
        fmt, size = self.options.format, (result.image.shape[1], result.image.shape[0])
        if fmt == "yolo":
            return yolo.render([self.objects.classes[i] for i in result.kept], result.boxes), len(result.kept)
        if fmt == "voc":
            if self.objects.head is None:
                raise ValueError(f"'{self.objects.label_file}' could not be read, so its copies have no labels")
            return voc.render(self.objects, result, out.rel_path, size), len(result.kept)
        if fmt == "coco":
            return coco.render(self.objects, result, out.rel_path, self._coco_base(), size, original)
        return masks.render(result)

    def _coco_base(self) -> str:
        """The folder the COCO file names are relative to: the source path less its file_name."""
        file_name = posixpath.normpath(str(((self.objects.head or {}).get("image") or {}).get("file_name", "")))
        source = self.job.source
        return source[: len(source) - len(file_name)].rstrip("/") if source.endswith(file_name) else ""


def count_objects(format: str, label: bytes) -> int:
    """The objects a written label file holds (for outputs found on disk when a run resumes)."""
    if format == "yolo":
        return sum(1 for line in label.splitlines() if line.strip())
    if format == "voc":
        return label.count(b"<object>")
    if format == "coco":
        return len(json.loads(label)["annotations"])
    mask = cv2.imdecode(np.frombuffer(label, np.uint8), cv2.IMREAD_UNCHANGED)
    return 0 if mask is None else len(set(np.unique(mask).tolist()) - {0})
