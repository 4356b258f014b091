"""Folder tree -> Dataset: which images exist, in which split and class.

Two layouts are accepted:

* class folders: ``SRC/<class>/<image>``
* split folders: ``SRC/{train,val,test}/<class>/<image>`` (any subset of the three; the validation
  split may also be named ``valid`` or ``validation``, as Roboflow and others export it)

Hidden entries and files that are not images are ignored and counted, never an error.
Sorting is natural (``img2`` before ``img10``) so listings read the way people expect.

Links: a link to a file or folder is followed wherever it points (a dataset of links into a photo
library is common, and the input is only ever read); broken links and link loops are ignored and
counted. ``Dataset.folders`` holds the real location of every folder read, so the output folder can
be refused when it resolves into any of them through a link. A file whose name is not valid UTF-8 is
not processed: it is listed in ``Dataset.rejected`` with the reason (manifests and summaries are UTF-8).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from expander.dataset import (
    IMAGE_EXTENSIONS,
    LABEL_MARKERS,
    LABEL_SUFFIXES,
    SPLITS,
    UNLISTED,
    Dataset,
    Item,
    is_image_name,
    natural_key,
)
from expander.errors import LayoutError
from expander.labels import registry
from expander.labels.tree import walk
from expander.limits import DEFAULT_MAX_PIXELS
from expander.storage import is_url, open_store

if TYPE_CHECKING:
    from expander.labels.tree import Tree

_LAYOUT_HELP = (
    "Expected class folders, SRC/<class>/<image>, or split folders, "
    "SRC/{train,val,test}/<class>/<image> (val may be named valid or validation). "
    f"Supported extensions (any case): {' '.join(IMAGE_EXTENSIONS)}."
)


def scan(root: str | os.PathLike, labels: str | None = "auto", max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Dataset:
    """Scan ``root`` and return its images grouped by split and class.

    Args:
        root: the dataset folder, or an object-store URL.
        labels: ``"auto"`` detects a labelled dataset (YOLO, COCO, VOC, masks; see expander.labels) and
            falls back to class folders; a format name (``expander.labels.registry.NAMES``) reads that format;
            "none" (``--labels none``; None too) reads class folders.
        max_pixels: label images (masks) over this many pixels are refused from their header, as images are.

    Raises:
        LayoutError: the folder is missing, holds no images, or mixes layouts.
    """
    remote = is_url(root)
    if not remote:
        root = Path(root)
        if not root.exists():
            raise LayoutError(f"Source folder '{root}' does not exist. {_LAYOUT_HELP}")
        if not root.is_dir():
            raise LayoutError(f"Source '{root}' is not a folder. {_LAYOUT_HELP}")
    if labels is not None and labels != "none" and (labels != "auto" or remote or _looks_labelled(Path(root))):
        tree = walk(root, max_pixels)
        dataset = _scan_labelled(tree, labels)
        if dataset is not None:
            return dataset
        if remote:
            return scan_store(str(root), tree.files)  # one listing of the store, not two
    return scan_store(str(root)) if remote else _scan_class_folders(Path(root))


def _looks_labelled(root: Path, depth: int = 3) -> bool:
    """Cheap test, ``depth`` folder levels deep (VOCdevkit/VOC2012/Annotations): does anything look like a label
    folder or file? A class-folder run then never walks the whole tree or imports a format."""
    folders: list[str | Path] = [root]
    for _ in range(depth):
        below: list[str | Path] = []
        for folder in folders:
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        name = entry.name
                        if name in LABEL_MARKERS or (name.endswith(LABEL_SUFFIXES) and name != "expander.json"):
                            return True
                        if not name.startswith(".") and entry.is_dir():
                            below.append(entry.path)
            except OSError:
                continue
        folders = below
    return False


def _scan_labelled(tree: Tree, labels: str) -> Dataset | None:
    """A labelled dataset read by its format (detected for "auto"); None when no format's layout is there."""
    chosen = registry.detect(tree) if labels == "auto" else registry.get(labels)
    if chosen is None:
        return None
    items, label_set = chosen.read(tree)
    if not items:
        raise LayoutError(f"No labelled images found in '{tree.location}' as {chosen.name}. Expected "
                          f"{chosen.description}.")  # fmt: skip
    order = (*SPLITS, UNLISTED, None)
    splits = tuple(s for s in order if any(i.split == s for i in items))
    return Dataset(root=tree.root, splits=splits, classes=label_set.names, items=tuple(items),
                   ignored=dict(tree.ignored), rejected=tuple(tree.rejected), folders=tuple(tree.folders),
                   labels=label_set, url=tree.url)  # fmt: skip


def _scan_class_folders(root: Path) -> Dataset:

    listing = _Listing()
    top_dirs, top_images = listing.read(root)
    split_dirs = _top_level(str(root), top_dirs, top_images)
    splits: tuple[str | None, ...] = tuple(s for s in SPLITS if s in split_dirs) or (None,)
    items: list[Item] = []
    classes: set[str] = set()
    for split in splits:
        split_root = root / split if split else root
        class_dirs, stray = listing.read(split_root) if split else (top_dirs, [])
        if stray:
            raise LayoutError(
                f"Found {len(stray)} image(s) directly in '{split_root}' (e.g. '{stray[0]}'); "
                f"move them into a folder named after their class. {_LAYOUT_HELP}"
            )
        for class_name in class_dirs:
            classes.add(class_name)
            nested, images = listing.read(
                split_root / class_name, prefix=f"{split}/{class_name}" if split else class_name
            )
            listing.count("folders", len(nested))
            prefix = f"{split}/{class_name}" if split else class_name
            items.extend(Item(f"{prefix}/{name}", split, class_name) for name in images)

    if not items:
        raise LayoutError(f"No images found in '{root}'. {_LAYOUT_HELP}")
    return Dataset(
        root=root,
        splits=splits,
        classes=tuple(sorted(classes, key=natural_key)),
        items=tuple(items),
        ignored={k: v for k, v in listing.ignored.items() if v},
        rejected=tuple(listing.rejected),
        folders=tuple(listing.folders),
    )


def scan_store(url: str, files: list[str] | None = None) -> Dataset:
    """``scan`` for a class-folder dataset in an object store: the same layouts, read from one listing of its
    objects (labelled datasets in a store are read by their format, like local ones).

    Raises:
        LayoutError: nothing there, or the layout is not class or split folders.
    """
    if files is None:
        files = [f for f in open_store(url).files() if not any(part.startswith(".") for part in f.split("/"))]
    ignored = {"not_image": sum(1 for f in files if not is_image_name(f))}
    images = [f for f in files if is_image_name(f)]
    top = sorted({f.split("/")[0] for f in images if "/" in f}, key=natural_key)
    split_dirs = _top_level(url, top, [f for f in images if "/" not in f])
    splits: tuple[str | None, ...] = tuple(s for s in SPLITS if s in split_dirs) or (None,)
    depth = 3 if split_dirs else 2
    items = []
    for f in sorted(images, key=natural_key):
        parts = f.split("/")
        if len(parts) != depth:
            ignored["folders" if len(parts) > depth else "stray"] = ignored.get("folders", 0) + 1
            continue
        items.append(Item(f, parts[0] if split_dirs else None, parts[-2]))
    if not items:
        raise LayoutError(f"No images found in '{url}'. {_LAYOUT_HELP}")
    classes = tuple(sorted({i.class_name for i in items}, key=natural_key))
    order = {s: n for n, s in enumerate(splits)}
    items.sort(key=lambda i: (order[i.split], natural_key(i.class_name), natural_key(i.rel_path)))
    return Dataset(root=Path(url.split("://", 1)[1]), splits=splits, classes=classes, items=tuple(items),
                   ignored={k: v for k, v in ignored.items() if v}, url=url.rstrip("/"))  # fmt: skip


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


class _Listing:
    """Reads folders one level deep, counting what it skips and noting the real folders it read."""

    def __init__(self) -> None:
        self.ignored: dict[str, int] = {}
        self.rejected: list[tuple[str, str]] = []
        self.folders: list[Path] = []

    def count(self, reason: str, n: int = 1) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + n

    def read(self, folder: Path, prefix: str = "") -> tuple[list[str], list[str]]:
        """(sub-folders, image files) of ``folder`` in natural order.

        Raises:
            LayoutError: the folder cannot be listed (permissions, I/O error).
        """
        try:
            self.folders.append(folder.resolve())
            with os.scandir(folder) as entries:
                found = [self._classify(entry, prefix) for entry in entries]
        except OSError as e:
            raise LayoutError(
                f"Cannot read folder '{folder}': {e.strerror or e}. Give your user read access to it "
                f"(e.g. chmod -R u+rX '{folder}') or move it out of the source folder."
            ) from e
        dirs = [name for kind, name in found if kind == "dir"]
        images = [name for kind, name in found if kind == "image"]
        return sorted(dirs, key=natural_key), sorted(images, key=natural_key)

    def _classify(self, entry: os.DirEntry, prefix: str) -> tuple[str, str]:
        name = entry.name
        if name.startswith("."):
            self.count("hidden")
            return "skip", name
        try:
            is_dir = entry.is_dir()
            if entry.is_symlink():
                Path(entry.path).stat()  # follows the link: a loop or a missing target raises here
        except OSError as e:
            self.count("link_loops" if e.errno == errno.ELOOP else "broken_links")
            return "skip", name
        if not is_dir and not is_image_name(name):
            self.count("not_image")
            return "skip", name
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            where = f"{prefix}/{shown}" if prefix else shown
            self.rejected.append((where, "name is not valid UTF-8 (bytes shown as \\xNN); rename the file"))
            return "skip", name
        return ("dir" if is_dir else "image"), name
