"""YOLO: ``images/`` + ``labels/*.txt`` (``class cx cy w h``, normalised), class names in ``data.yaml``.

Both exports are read: Roboflow's ``<split>/images`` + ``<split>/labels`` and Ultralytics'
``images/<split>`` + ``labels/<split>``. An image's label file is found the way Ultralytics finds it:
the last ``images`` folder of its path becomes ``labels`` and the extension ``.txt``. An image with
no label file, or an empty one, is a background image. ``data.yaml``'s split paths (Roboflow writes
``../train/images``, relative to nothing useful) are not followed: the layout is read from the tree,
and the output's ``data.yaml`` gets paths relative to itself, which Ultralytics resolves.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from expander.dataset import Item
from expander.labels.files import Tree, clip_corners, read_text, split_of
from expander.labels.layout import YAML_NAMES
from expander.labels.objects import LabelSet, Objects


def label_path(image: str) -> str | None:
    """``train/images/a.jpg`` -> ``train/labels/a.txt``; None when no folder of the path is ``images``."""
    parts = image.split("/")
    folders = parts[:-1]
    if "images" not in folders:
        return None
    i = len(folders) - 1 - folders[::-1].index("images")
    parts[i] = "labels"
    parts[-1] = posixpath.splitext(parts[-1])[0] + ".txt"
    return "/".join(parts)


def detect(tree: Tree) -> bool:
    files = set(tree.files)
    return any((label := label_path(i)) is not None and label in files for i in tree.images)


def scan(tree: Tree) -> tuple[list[Item], LabelSet]:
    yaml_file, config = _config(tree)
    names = _names(config)
    files = set(tree.files)
    items, used = [], set()
    for image in tree.images:
        label = label_path(image)
        if label is None:
            continue
        if label in files:
            used.add(label)
            objects = parse(tree.root, label, len(names) if names else None)
        else:
            objects = Objects(None)
        items.append(Item(image, split_of(image), "", objects))
    if not names:  # no data.yaml: class ids are their own names
        top = max((c for item in items for c in item.objects.classes), default=-1)  # type: ignore[union-attr]
        names = tuple(str(i) for i in range(top + 1))
    orphans = [f for f in tree.files if f.endswith(".txt") and "labels" in f.split("/")[:-1] and f not in used]
    labels = LabelSet("yolo", names, (yaml_file,) if yaml_file else (), tuple(orphans),
                      {"yaml": yaml_file, "config": config})  # fmt: skip
    return items, labels


def _config(tree: Tree) -> tuple[str | None, dict[str, Any]]:
    import yaml

    for name in YAML_NAMES:
        if name in tree.files:
            try:
                config = yaml.safe_load(read_text(tree.root, name))
            except (ValueError, yaml.YAMLError) as e:
                from expander.errors import LayoutError

                message = " ".join(str(e).split())
                raise LayoutError(f"Cannot read '{tree.root / name}': {message}. Fix the file.") from None
            return name, config if isinstance(config, dict) else {}
    return None, {}


def _names(config: dict[str, Any]) -> tuple[str, ...]:
    names = config.get("names")
    if isinstance(names, dict):  # Ultralytics' {0: name, 1: name}
        return tuple(str(names[k]) for k in sorted(names, key=lambda k: int(k)))
    if isinstance(names, list):
        return tuple(str(n) for n in names)
    return ()


def parse(root: Path, label: str, classes: int | None) -> Objects:
    """One label file's boxes; lines that cannot be used are left out and named in ``problems``."""
    try:
        text = read_text(root, label)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) else str(e)
        return Objects(label, problems=(f"{label}: cannot be read: {reason}",))
    ids, boxes, problems = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label} line {number}"
        if len(fields) != 5:
            kind = "a segmentation polygon (not supported; export as COCO)" if len(fields) > 5 else "not 5 numbers"
            problems.append(f"{where}: {kind}")
            continue
        try:
            class_id, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            problems.append(f"{where}: not 'class cx cy w h' numbers")
            continue
        cx, cy, w, h = values
        if classes is not None and not 0 <= class_id < classes:
            problems.append(f"{where}: class id {class_id} is outside data.yaml's names (0-{classes - 1})")
        elif class_id < 0:
            problems.append(f"{where}: negative class id {class_id}")
        elif w <= 0 or h <= 0:
            problems.append(f"{where}: zero-size box")
        elif (corners := clip_corners(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, 1.0, 1.0)) is None:
            problems.append(f"{where}: box outside the image")
        else:
            ids.append(class_id)
            boxes.append(from_corners(*corners))
    return Objects(label, tuple(ids), tuple(boxes), problems=tuple(problems))


def from_corners(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    return ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


def render(classes: list[int], boxes: list[tuple[float, ...]]) -> bytes:
    """A copy's label file: one ``class cx cy w h`` line per object, six decimals."""
    lines = [f"{c} {b[0]:.6f} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f}\n" for c, b in zip(classes, boxes, strict=True)]
    return "".join(lines).encode()


def dataset_files(labels: LabelSet, splits: list[str | None], image_folders: dict[str | None, str]) -> dict[str, bytes]:
    """``data.yaml`` for the output: the source's keys, with split paths that point into the output."""
    import yaml

    config = dict(labels.details.get("config") or {})
    for key in ("train", "val", "test", "path"):
        config.pop(key, None)
    keys = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
    paths = {keys[s]: image_folders[s] for s in splits if s in keys and s in image_folders}
    if None in image_folders:  # no splits: the one folder serves as train and val
        paths = {"train": image_folders[None], "val": image_folders[None]}
    config = {**paths, **config, "nc": len(labels.names), "names": list(labels.names)}
    name = labels.details.get("yaml") or "data.yaml"
    return {name: yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()}
