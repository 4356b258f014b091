"""Darknet's layout, as CVAT's "YOLO 1.1" export writes it: ``obj.data`` (``classes``, ``train``, ``valid``,
``names``), ``obj.names`` (a class name per line), split lists (``train.txt``) naming images as
``data/obj_train_data/<image>`` (paths for darknet run beside a ``data/`` folder), and each image's label file
beside it (``obj_train_data/1.jpg`` + ``1.txt``, YOLO detection lines).

Paths in ``obj.data`` and the lists are read from the folder of ``obj.data``, and, when they name nothing
there, with their leading ``data/`` taken off (CVAT's archive is that ``data/`` folder). A split comes from the
list that names an image, else from its folder (``obj_<subset>_data``). A copy's label file goes beside it;
``obj.data`` and ``obj.names`` are kept as they are, and each list names every output of its split in the
source's own form (its ``data/`` prefix kept).
"""

from __future__ import annotations

import posixpath
import re

from expander.dataset import UNLISTED, Item, natural_key, split_role
from expander.errors import LayoutError
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read, Written
from expander.labels.tree import MAX_DATASET_FILE_BYTES, Tree, inside, split_of, stem
from expander.labels.yolo import YoloDetect
from expander.textfiles import TextFileError

DATA_FILE, NAMES_FILE = "obj.data", "obj.names"
SPLIT_KEYS = {"train": "train", "valid": "val", "val": "val", "test": "test"}  # obj.data key -> split
PREFIX = "data/"  # where darknet expects the export: its paths start so


class Darknet(YoloDetect):
    name = "darknet"
    description = "obj.data, obj.names and train.txt, each image's YOLO label file beside it (CVAT's YOLO 1.1)"

    def coverage(self, tree: Tree) -> int:
        if not any(posixpath.basename(f) in (DATA_FILE, NAMES_FILE) for f in tree.files):
            return 0
        return len(_beside(tree))

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        data_file = next((f for f in tree.files if posixpath.basename(f) == DATA_FILE), None)
        base = posixpath.dirname(data_file) if data_file else ""
        config = _config(tree, data_file) if data_file else {}
        names_file = _find(tree, base, config.get("names", NAMES_FILE)) or next(
            (f for f in tree.files if posixpath.basename(f) == NAMES_FILE), None
        )
        if names_file is None:
            raise LayoutError(f"No {NAMES_FILE} found in '{tree.location}' (darknet's class names, one per line). "
                              "Add it, or pass --labels with another format.")  # fmt: skip
        names = _lines(tree, names_file)
        lists: dict[str, str] = {}
        splits: dict[str, str] = {}
        notes: list[str] = []
        for key, role in SPLIT_KEYS.items():
            list_file = _find(tree, base, config[key]) if key in config else None
            if list_file is not None and role not in lists:
                lists[role] = list_file
                for line in _lines(tree, list_file):
                    image = _find(tree, base, line)
                    if image is None:
                        notes.append(f"{list_file}: '{line[:80]}' names no file of the dataset: not read")
                    else:
                        splits.setdefault(image, role)
        beside = _beside(tree)
        folders = {posixpath.dirname(i) for i in beside}
        items = []
        for image in tree.images:
            if image not in beside and image not in splits and posixpath.dirname(image) not in folders:
                continue  # not part of the layout: expander.inventory names it
            objects = self.parse(tree, beside[image], len(names), {}) if image in beside else Objects()
            items.append(Item(image, splits.get(image) or _folder_split(image) or (UNLISTED if lists else None), "",
                              objects))  # fmt: skip
        items.sort(key=lambda i: natural_key(i.rel_path))
        kept = {name: tree.read(name, MAX_DATASET_FILE_BYTES) for name in (data_file, names_file) if name}
        details = {"settings": {}, "base": base, "lists": lists, "kept": kept, "prefixed": _prefixed(tree, lists)}
        files = (*kept, *lists.values())
        return items, LabelSet(self.name, names, files, (), tuple(notes), details=details)

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        if objects is not None and not objects.label_files and output == source:
            return ()
        return (posixpath.join(posixpath.dirname(output), f"{stem(output)}.txt"),)

    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        details = labels.details
        files: Files = dict(details["kept"])
        for role, list_file in details["lists"].items():
            prefix = PREFIX if details["prefixed"].get(list_file) else ""
            lines = [prefix + posixpath.relpath(w.output, details["base"] or ".") for w in written
                     if (w.split if w.split != UNLISTED else None) == role]  # fmt: skip
            files[list_file] = "".join(f"{line}\n" for line in lines).encode()
        return files

    # Its dataset files are checked as every format's are (each what dataset_files makes), not as data.yaml.
    check_dataset_files = LabelFormat.check_dataset_files


def _beside(tree: Tree) -> dict[str, str]:
    """Image -> the label file beside it (same name, ``.txt``)."""
    files = set(tree.files)
    found = {}
    for image in tree.images:
        label = posixpath.splitext(image)[0] + ".txt"
        if label in files:
            found[image] = label
    return found


def _config(tree: Tree, data_file: str) -> dict[str, str]:
    """obj.data's ``key = value`` lines."""
    return {key.strip(): value.strip() for key, _, value in (line.partition("=") for line in _lines(tree, data_file))
            if value}  # fmt: skip


def _lines(tree: Tree, name: str) -> tuple[str, ...]:
    try:
        text = tree.text(name, MAX_DATASET_FILE_BYTES * 64)
    except (OSError, TextFileError) as e:
        raise LayoutError(f"Cannot read '{tree.where(name)}': {e}. Fix the file.") from None
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _find(tree: Tree, base: str, path: str) -> str | None:
    """A path of obj.data or a list, as a file of the tree: from obj.data's folder, else without ``data/``."""
    files = set(tree.files)
    for candidate in (path, path[len(PREFIX) :] if path.startswith(PREFIX) else None):
        rel = inside(tree, base, candidate) if candidate else None
        if rel in files:
            return rel
    return None


def _prefixed(tree: Tree, lists: dict[str, str]) -> dict[str, bool]:
    """Which lists name their images with darknet's ``data/`` prefix (written back the same way)."""
    return {name: bool(lines) and lines[0].startswith(PREFIX) for name in lists.values()
            if (lines := _lines(tree, name)) is not None}  # fmt: skip


def _folder_split(image: str) -> str | None:
    """``obj_train_data`` -> train, ``obj_valid_data`` -> val; else the split its folders name."""
    for part in image.split("/")[:-1]:
        match = re.fullmatch(r"obj_(\w+?)_data", part)
        if match and (role := split_role(match[1])) is not None:
            return "val" if role in ("valid", "validation") else role
    return split_of(image)
