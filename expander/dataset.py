"""What a dataset is, as plain data: its images (``Item``), their splits and classes (``Dataset``), and the
naming rules every reader shares (image extensions, split names, natural order). No I/O: ``scan`` reads
class folders into it, ``expander.labels`` reads labelled datasets into it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from expander.labels.base import LabelSet, Objects

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
VAL_SPLITS = ("val", "valid", "validation")  # names of a validation split, in order of preference
SPLITS = ("train", *VAL_SPLITS, "test")
# Only this split is augmented; the others are evaluation data and are copied as they are.
AUGMENTED_SPLIT = "train"
# Folder and file names that mark a labelled dataset's layout (scan looks for them two levels deep before it
# walks the tree and tries the formats); a mask folder mirrors the image folder (expander.labels.masks).
MASK_FOLDERS = ("masks", "Masks", "mask", "PedMasks", "SegmentationObject", "SegmentationClass", "annotations",
                "label", "labels", "gt")  # fmt: skip
LABEL_MARKERS = frozenset({"labels", "Annotations", "ImageSets", "label_2", *MASK_FOLDERS})
# folder names that say "labels of the folder beside": CamVid's trainannot, annotations_prepped_train, train_masks
LABEL_MARKER_NAME = re.compile(r".+annot|(annotations|masks|labels)_.+|.+_(annotations|masks|labels)", re.IGNORECASE)
LABEL_SUFFIXES = (".json", ".jsonl", ".xml", ".yaml", ".yml", ".names", ".data", ".csv")
# The files an expander run writes beside its outputs (its manifest and its summary): an expanded folder read
# as a source holds them, and they are its run records, not its data.
MANIFEST_NAME, SUMMARY_NAME = RUN_RECORDS = ("manifest.csv", "expander.json")
# The split of images a labelled dataset's own split files (data.yaml, ImageSets lists) do not name: copied,
# never augmented, and counted.
UNLISTED = "unlisted"


@dataclass(frozen=True)
class Item:
    """One source image. ``rel_path`` is relative to the dataset root, with forward slashes."""

    rel_path: str
    split: str | None
    class_name: str  # "" in a labelled dataset, whose classes are its objects'
    objects: Objects | None = None  # a labelled dataset's labels of this image


@dataclass(frozen=True)
class Inventory:
    """Every file under a source, accounted for: each is an image read, a label or dataset file read, or
    ignored with a reason (``expander.inventory`` makes it). ``files`` counts every entry under the source
    (a hidden folder once: it is not entered); ``files == images + label_files + len(ignored)``."""

    files: int = 0
    images: int = 0
    label_files: int = 0
    ignored: tuple[tuple[str, str, str], ...] = ()  # (path, reason key, why in words), in natural order

    def counts(self) -> dict[str, int]:
        """How many files were ignored, by reason key."""
        found: dict[str, int] = {}
        for _, reason, _ in self.ignored:
            found[reason] = found.get(reason, 0) + 1
        return found


@dataclass(frozen=True)
class Dataset:
    """A scanned source folder."""

    root: Path
    splits: tuple[str | None, ...]  # (None,) for the class-folder layout
    classes: tuple[str, ...]  # union over splits, natural order
    items: tuple[Item, ...]
    ignored: dict[str, int] = field(default_factory=dict)  # reason -> count (inventory.counts())
    rejected: tuple[tuple[str, str], ...] = ()  # (path as printable text, reason): files that cannot be processed
    folders: tuple[Path, ...] = ()  # real paths of the folders read (links resolved)
    labels: LabelSet | None = None  # a labelled dataset's format and class names (classes then holds them)
    url: str | None = None  # a dataset in an object store: its URL (``root`` is then only a name)
    excluded: tuple[str, ...] = ()  # files left out by expand --exclude (a duplicates file)
    inventory: Inventory = field(default_factory=Inventory)

    @property
    def location(self) -> str:
        """Where the images are: the URL of an object-store dataset, else the folder."""
        return self.url or str(self.root)

    @property
    def has_splits(self) -> bool:
        return self.splits != (None,)

    def count(self, split: str | None, class_name: str) -> int:
        return sum(1 for i in self.items if i.split == split and i.class_name == class_name)


def natural_key(text: str) -> tuple:
    """Sort key that orders digit runs by value: ``img2`` < ``img10``."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.casefold()) for p in parts), text


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


_SPLIT_NAME = re.compile(r"^(train|val|valid|validation|test)[-_]?\d*$", re.IGNORECASE)


def split_role(name: str) -> str | None:
    """The split a folder named ``name`` holds: ``train``, ``val``/``valid``/``validation`` or ``test`` as they
    are, and the same followed by a year or number as COCO and Ultralytics name them (``train2017`` ->
    ``train``, ``val2017`` -> ``val``); None for any other name."""
    if name in SPLITS:
        return name
    match = _SPLIT_NAME.match(name)
    return match[1].lower() if match else None
