"""Folder tree -> Dataset: which images exist, in which split and class.

Two layouts are accepted:

* class folders: ``SRC/<class>/<image>``
* split folders: ``SRC/{train,val,test}/<class>/<image>`` (any subset of the three)

Hidden entries and files that are not images are ignored and counted, never an error.
Sorting is natural (``img2`` before ``img10``) so listings read the way people expect.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from expander.errors import LayoutError

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
SPLITS = ("train", "val", "test")
# Only this split is augmented; the others are evaluation data and are copied as they are.
AUGMENTED_SPLIT = "train"

_LAYOUT_HELP = (
    "Expected class folders, SRC/<class>/<image>, or split folders, "
    "SRC/{train,val,test}/<class>/<image>. "
    f"Supported extensions (any case): {' '.join(IMAGE_EXTENSIONS)}."
)


@dataclass(frozen=True)
class Item:
    """One source image. ``rel_path`` is relative to the dataset root, with forward slashes."""

    rel_path: str
    split: str | None
    class_name: str


@dataclass(frozen=True)
class Dataset:
    """A scanned source folder."""

    root: Path
    splits: tuple[str | None, ...]  # (None,) for the class-folder layout
    classes: tuple[str, ...]  # union over splits, natural order
    items: tuple[Item, ...]
    ignored: dict[str, int] = field(default_factory=dict)  # reason -> count

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


def scan(root: str | os.PathLike) -> Dataset:
    """Scan ``root`` and return its images grouped by split and class.

    Raises:
        LayoutError: the folder is missing, holds no images, or mixes layouts.
    """
    root = Path(root)
    if not root.exists():
        raise LayoutError(f"Source folder '{root}' does not exist. {_LAYOUT_HELP}")
    if not root.is_dir():
        raise LayoutError(f"Source '{root}' is not a folder. {_LAYOUT_HELP}")

    ignored: dict[str, int] = {}
    top_dirs, top_images = _list_dir(root, ignored)
    if top_images:
        raise LayoutError(
            f"Found {len(top_images)} image(s) directly in '{root}' (e.g. '{top_images[0]}'); "
            f"move them into a folder named after their class. {_LAYOUT_HELP}"
        )
    split_dirs = [d for d in top_dirs if d in SPLITS]
    if split_dirs and len(split_dirs) != len(top_dirs):
        others = ", ".join(d for d in top_dirs if d not in SPLITS)
        raise LayoutError(
            f"'{root}' mixes split folders ({', '.join(split_dirs)}) with other folders ({others}). {_LAYOUT_HELP}"
        )

    splits: tuple[str | None, ...] = tuple(s for s in SPLITS if s in split_dirs) or (None,)
    items: list[Item] = []
    classes: set[str] = set()
    for split in splits:
        split_root = root / split if split else root
        class_dirs, stray = _list_dir(split_root, ignored) if split else (top_dirs, [])
        if stray:
            raise LayoutError(
                f"Found {len(stray)} image(s) directly in '{split_root}' (e.g. '{stray[0]}'); "
                f"move them into a folder named after their class. {_LAYOUT_HELP}"
            )
        for class_name in class_dirs:
            classes.add(class_name)
            nested, images = _list_dir(split_root / class_name, ignored)
            ignored["folders"] = ignored.get("folders", 0) + len(nested)
            prefix = f"{split}/{class_name}" if split else class_name
            items.extend(Item(f"{prefix}/{name}", split, class_name) for name in images)

    if not items:
        raise LayoutError(f"No images found in '{root}'. {_LAYOUT_HELP}")
    return Dataset(
        root=root,
        splits=splits,
        classes=tuple(sorted(classes, key=natural_key)),
        items=tuple(items),
        ignored={k: v for k, v in ignored.items() if v},
    )


def _list_dir(folder: Path, ignored: dict[str, int]) -> tuple[list[str], list[str]]:
    """Return (sub-folders, image files) of ``folder`` in natural order; count what is skipped."""
    dirs, images = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                ignored["hidden"] = ignored.get("hidden", 0) + 1
            elif entry.is_dir():
                dirs.append(entry.name)
            elif is_image_name(entry.name):
                images.append(entry.name)
            else:
                ignored["not_image"] = ignored.get("not_image", 0) + 1
    return sorted(dirs, key=natural_key), sorted(images, key=natural_key)
