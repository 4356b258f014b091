"""YOLO: ``images/`` + ``labels/*.txt`` and a dataset YAML, as Ultralytics and Roboflow publish them.

Three tasks share the layout, one class each: detection (``class cx cy w h``), segmentation (``class x1 y1 x2
y2 ...``, one polygon per object) and pose (``class cx cy w h`` then ``kpt_shape`` keypoints, ``x y`` or
``x y v``), all normalised to the image. The rules are Ultralytics' own (``ultralytics/data/utils.py``):

* an image's label file: its path with the last ``/images/`` made ``/labels/`` and the extension ``.txt``;
  no label file, or an empty one, is a background image;
* the dataset YAML (``data.yaml``, or the one YAML at the root) names the splits: ``train``, ``val`` (or
  ``validation``), ``test``, each a folder, a ``.txt`` list of images, or a list of them, relative to ``path``
  (or to the YAML's folder when ``path`` is not in the dataset); ``../train/images``, which Roboflow writes,
  is read as ``train/images`` when the former is not there, as Ultralytics does. Images under no split the
  YAML names take their split from their folders (``test/``, ``val2017/``); ``names`` is a list or
  ``{id: name}``, and must give every id from 0;
* a file with a line of more than 6 values is a segmentation file; a YAML with ``kpt_shape`` is a pose set.

Outputs keep the layout: a copy's label file sits where Ultralytics looks for it, and the output's YAML has
the source's keys with split paths relative to itself (list files rewritten with the copies).
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

import cv2
import numpy as np
import yaml

from expander.dataset import UNLISTED, Item, is_image_name
from expander.errors import LayoutError
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read, Written
from expander.labels.instances import (
    Instances,
    check_mask_memory,
    clip_corners,
    fill_polygons,
    polygon_box,
    trace_polygons,
)
from expander.labels.tree import MAX_DATASET_FILE_BYTES, Tree, inside, split_of
from expander.limits import MAX_OBJECTS_PER_IMAGE
from expander.plan import Output
from expander.textfiles import TextFileError, decode_text, load_yaml

YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
SPLIT_KEYS = {"train": "train", "val": "val", "validation": "val", "test": "test"}  # YAML key -> split
TOLERANCE = 0.01  # Ultralytics accepts coordinates 1% outside [0, 1]
SAMPLE_FILES = 200  # label files read to tell a segmentation set from a detection set
OBB_VALUES = 9  # class x1 y1 x2 y2 x3 y3 x4 y4: an oriented box, or a polygon of 4 points


def label_path(image: str) -> str | None:
    """``train/images/a.jpg`` -> ``train/labels/a.txt``; None when no folder of the path is ``images``."""
    parts = image.split("/")
    if "images" not in parts[:-1]:
        return None
    i = len(parts) - 2 - parts[-2::-1].index("images")
    parts[i] = "labels"
    parts[-1] = posixpath.splitext(parts[-1])[0] + ".txt"
    return "/".join(parts)


class Yolo(LabelFormat):
    """What the three YOLO tasks share: the layout, the YAML, the class names, and the label files' place."""

    columns = "class cx cy w h"

    # --- layout --------------------------------------------------------------------------------------------
    def coverage(self, tree: Tree) -> int:
        files = set(tree.files)
        found = sum(1 for i in tree.images if (label := label_path(i)) is not None and label in files)
        return found if found and self.task_of(tree) == self.name else 0

    def task_of(self, tree: Tree) -> str:
        """Which YOLO task the dataset holds: pose when its YAML has kpt_shape, segment when a label line has
        more than 6 values (Ultralytics' rule), else detection. Found once per tree."""
        if "yolo-task" not in tree.cache:
            tree.cache["yolo-task"] = self._task(tree)
        return tree.cache["yolo-task"]

    def _task(self, tree: Tree) -> str:
        """Pose when the YAML has kpt_shape; oriented boxes (OBB) when every line of the files sampled has 9
        values (``--labels yolo-segment`` reads those as 4-point polygons); segment when a line has more than 6
        values (Ultralytics' rule); else detection."""
        _, config = dataset_yaml(tree)
        if "kpt_shape" in config:
            return "yolo-pose"
        labels = [f for f in tree.files if f.endswith(".txt") and "labels" in f.split("/")[:-1]]
        lengths = set()
        for name in labels[:SAMPLE_FILES]:
            try:
                lengths |= {len(line.split()) for line in tree.text(name).splitlines() if line.strip()}
            except (OSError, TextFileError):
                continue
        if lengths == {OBB_VALUES}:
            return "yolo-obb"
        return "yolo-segment" if any(n > 6 for n in lengths) else "yolo"

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        yaml_name, config = dataset_yaml(tree)
        names = class_names(config, tree.where(yaml_name) if yaml_name else "")
        splits, lists, notes = read_splits(tree, yaml_name, config)
        settings = self.settings_of(config, tree.where(yaml_name) if yaml_name else "")
        files = set(tree.files)
        items, used, outside = [], set(), 0
        for image in tree.images:
            label = label_path(image)
            # An image under no split the YAML names takes its split from its folders; if none says, it is
            # copied but not augmented (a YAML that names splits decides which images train).
            split = _split(splits.get(image), split_of(image), bool(splits))
            if label is None and image not in splits:
                outside += 1  # neither under an images/ folder nor named by the YAML: not part of the dataset
                continue
            if label is not None and label in files:
                used.add(label)
                objects = self.parse(tree, label, len(names) if names else None, settings)
            else:
                objects = Objects()
            items.append(Item(image, split, "", objects))
        names_file = None if names else _names_file(tree)
        if names_file is not None:  # no YAML names, but darknet's obj.names or a classes.txt beside the labels
            names = tuple(line.strip() for line in tree.text(names_file, MAX_DATASET_FILE_BYTES).splitlines()
                          if line.strip())  # fmt: skip
            notes.append(f"class names from {names_file} (the YAML names none)")
        if not names:  # no names anywhere: class ids are their own names
            top = max((c for item in items for c in item.objects.classes), default=-1)  # type: ignore[union-attr]
            names = tuple(str(i) for i in range(top + 1))
        orphans = [f for f in tree.files if f.endswith(".txt") and "labels" in f.split("/")[:-1] and f not in used]
        if outside:
            notes.append(f"{outside} image(s) outside any images/ folder and any split of the YAML were not read")
        details = {"yaml": yaml_name, "config": config, "lists": lists, "settings": settings}
        read_files = ((yaml_name,) if yaml_name else ()) + ((names_file,) if names_file else ())
        dataset_files = read_files + tuple(lists.values())
        return items, LabelSet(self.name, names, dataset_files, tuple(orphans), tuple(notes), details=details)

    def settings_of(self, config: dict[str, Any], where: str) -> dict[str, Any]:
        return {}

    def worker_settings(self, labels: LabelSet) -> dict[str, Any]:
        return labels.details["settings"]

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        if objects is not None and not objects.label_files and output == source:
            return ()  # an original background image without a label file stays without one
        path = label_path(output)
        return (path,) if path is not None else ()

    # --- one label file ------------------------------------------------------------------------------------
    def parse(self, tree: Tree, label: str, classes: int | None, settings: dict[str, Any]) -> Objects:
        """One label file's objects; lines that cannot be read are errors, unusable objects problems."""
        try:
            text = tree.text(label)
        except (OSError, TextFileError) as e:
            reason = e.strerror if isinstance(e, OSError) else str(e)
            return Objects((label,), errors=(f"{label}: cannot be read: {reason}",), unreadable=True)
        ids, records, problems, errors = [], [], [], []
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            where = f"{label} line {number}"
            try:
                class_id, values = _numbers(fields)
            except ValueError:
                errors.append(f"{where}: not numbers ('{' '.join(fields)[:60]}')")
                continue
            problem = self.columns_problem(len(fields), settings)
            if problem:
                errors.append(f"{where}: {problem}")
                continue
            if classes is not None and not 0 <= class_id < classes:
                errors.append(f"{where}: class id {class_id} is not in the YAML's names (0-{classes - 1})")
                continue
            if class_id < 0:
                errors.append(f"{where}: negative class id {class_id}")
                continue
            if any(v < -TOLERANCE or v > 1 + TOLERANCE for v in self.coordinates(values, settings)):
                errors.append(f"{where}: a coordinate outside 0-1 (YOLO's are normalised to the image)")
                continue
            record, problem = self.record(values, settings)
            if problem:
                problems.append(f"{where}: {problem}")
                continue
            ids.append(class_id)
            records.append(record)
        if len(ids) > MAX_OBJECTS_PER_IMAGE:
            error = f"{label}: {len(ids):,} objects, more than the {MAX_OBJECTS_PER_IMAGE:,} an image may have"
            return Objects((label,), errors=(error,), unreadable=True)
        return Objects((label,), tuple(ids), tuple(records), problems=tuple(problems), errors=tuple(errors))

    def columns_problem(self, count: int, settings: dict[str, Any]) -> str:
        raise NotImplementedError

    def coordinates(self, values: list[float], settings: dict[str, Any]) -> list[float]:
        return values

    def record(self, values: list[float], settings: dict[str, Any]) -> tuple[Any, str]:
        """An object's record from a line's values after the class, or a problem that leaves it out."""
        raise NotImplementedError

    # --- checks --------------------------------------------------------------------------------------------
    def roles(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        return ("labels",) * len(paths)

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        found: dict[int, int] = {}
        for data in files.values():
            for line in data.splitlines():
                if line.strip():
                    class_id = int(float(line.split()[0]))
                    found[class_id] = found.get(class_id, 0) + 1
        return found

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        settings = labels.details.get("settings") or {}
        for data in files.values():
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    class_id, values = _numbers(fields)
                except ValueError:
                    return f"line {number} is not numbers"
                problem = self.columns_problem(len(fields), settings)
                if problem:
                    return f"line {number}: {problem}"
                if not 0 <= class_id < len(labels.names):
                    return f"line {number}: class id {class_id} is outside 0-{len(labels.names) - 1}"
                if any(v < -1e-6 or v > 1 + 1e-6 for v in self.coordinates(values, settings)):
                    return f"line {number}: a coordinate is not inside the image"
        return ""

    # --- data.yaml and split lists -------------------------------------------------------------------------
    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        config, yaml_name = dict(labels.details.get("config") or {}), labels.details.get("yaml") or "data.yaml"
        lists: dict[str, str] = labels.details.get("lists") or {}
        by_split = _by_split(written)
        files: Files = {}
        paths = _split_paths(config, labels, by_split)
        for role, list_file in lists.items():
            files[list_file] = _list_text(list_file, by_split.get(role, [])).encode()
        out_config = {**paths, **{k: v for k, v in config.items() if k not in ("path", *SPLIT_KEYS)}}
        if "names" not in config:
            out_config["names"] = list(labels.names)
        if "nc" in config or "names" not in config:
            out_config["nc"] = len(labels.names)
        files[yaml_name] = dump_yaml(out_config)
        return files

    def check_dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> list[str]:
        yaml_name = labels.details.get("yaml") or "data.yaml"
        try:
            config = load_yaml(decode_text(read(yaml_name)))
        except (OSError, TextFileError) as e:
            return [f"{yaml_name}: cannot be read: {e}"]
        if not isinstance(config, dict):
            return [f"{yaml_name}: not a YAML mapping"]
        problems = []
        try:
            names = class_names(config, yaml_name)
        except LayoutError as e:
            return [str(e)]
        if names != labels.names:
            problems.append(f"{yaml_name}: names {list(names)} differ from the source's {list(labels.names)}")
        by_split = _by_split(written)
        for key, value in config.items():
            role = SPLIT_KEYS.get(key)
            if role is None or not value:
                continue
            for entry in value if isinstance(value, list) else [value]:
                problems += _check_split(yaml_name, key, str(entry), by_split.get(role, []), read, labels)
        return problems


class YoloDetect(Yolo):
    name = "yolo"
    description = "images/ and labels/*.txt (class cx cy w h), class names in data.yaml"

    def columns_problem(self, count: int, settings: dict[str, Any]) -> str:
        if count == 5:
            return ""
        if count > 6:
            return f"{count} values: a segmentation polygon (--labels yolo-segment reads those)"
        return f"{count} values; a detection line is '{self.columns}'"

    def record(self, values: list[float], settings: dict[str, Any]) -> tuple[Any, str]:
        return _box_record(values[:4])

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        boxes = [_pixels(r, width, height) for r in objects.records]
        return Instances(list(objects.classes), boxes, list(range(objects.count)))

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        lines = [box_line(c, b, size) for c, b in zip(moved.classes, moved.boxes, strict=True)]
        return _files(paths, lines), [int(line.split()[0]) for line in lines]


class YoloSegment(YoloDetect):
    name = "yolo-segment"
    description = "images/ and labels/*.txt (class x1 y1 x2 y2 ..., one polygon per object), names in data.yaml"
    columns = "class x1 y1 x2 y2 x3 y3 ..."

    def columns_problem(self, count: int, settings: dict[str, Any]) -> str:
        if count >= 7 and count % 2 == 1:
            return ""
        return f"{count} values; a segmentation line is '{self.columns}' (3 points or more)"

    def record(self, values: list[float], settings: dict[str, Any]) -> tuple[Any, str]:
        points = np.clip(np.array(values, dtype=np.float64).reshape(-1, 2), 0.0, 1.0)
        x0, y0, x1, y1 = polygon_box(points)
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            return None, "a polygon with no area"
        return tuple(points.reshape(-1).tolist()), ""

    def masked(self, objects: Objects) -> int:
        return objects.count

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        masks, boxes = [], []
        check_mask_memory(objects.count, height, width)
        for record in objects.records:
            points = np.array(record, dtype=np.float64).reshape(-1, 2) * (width, height)
            masks.append(fill_polygons([points], height, width))
            boxes.append(polygon_box(points))
        return Instances(list(objects.classes), boxes, list(range(objects.count)), masks)

    def outlines(self, objects: Objects, height: int, width: int) -> list[list[list[float]] | None]:
        return [(np.array(r, dtype=np.float64).reshape(-1, 2) * (width, height)).tolist() for r in objects.records]

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        width, height = size
        lines = []
        for position, class_id in enumerate(moved.classes):
            points = self.outline(moved, position)
            if points is None:
                continue  # the object's pixels all left the image
            values = np.clip(points / (width, height), 0.0, 1.0)
            lines.append(f"{class_id} " + " ".join(f"{v:.6f}" for v in values.reshape(-1)))
        return _files(paths, lines), [int(line.split()[0]) for line in lines]

    def outline(self, moved: Instances, position: int) -> np.ndarray | None:
        """A moved object's points in pixels ((K, 2)): one polygon per line, its largest part; None when none
        of it is left."""
        polygons = trace_polygons(moved.masks[position])
        return polygons[0] if polygons else None


class YoloObb(YoloSegment):
    """Ultralytics' oriented boxes: ``class x1 y1 x2 y2 x3 y3 x4 y4``, the 4 corners normalised. A box moves as
    its 4 corners (keypoints) and as its filled outline (a mask, as a polygon does), and is written back as the
    smallest rotated rectangle around its moved corners when all four are inside the copy (exact), else around
    what of its mask is (cut by the image's edge: Ultralytics wants every corner inside the image). An oriented
    box stays an oriented box."""

    name = "yolo-obb"
    description = "images/ and labels/*.txt (class x1 y1 x2 y2 x3 y3 x4 y4, an oriented box), names in data.yaml"
    columns = "class x1 y1 x2 y2 x3 y3 x4 y4"

    def columns_problem(self, count: int, settings: dict[str, Any]) -> str:
        return "" if count == OBB_VALUES else f"{count} values; an oriented box line is '{self.columns}'"

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        found = super().instances(objects, height, width, read, settings)
        for record in objects.records:
            corners = np.array(record, dtype=np.float64).reshape(4, 2) * (width, height)
            found.keypoints.append([v for x, y in corners for v in (x, y, 2.0)])
        return found

    def outline(self, moved: Instances, position: int) -> np.ndarray | None:
        """The rotated rectangle around the moved corners when all four are inside the copy, else around what of
        the box's mask is."""
        corners = np.array(moved.keypoints[position], dtype=np.float64).reshape(4, 3)
        if (corners[:, 2] > 0).all():
            around = corners[:, :2]
        else:
            polygons = trace_polygons(moved.masks[position])
            if not polygons:
                return None
            around = np.concatenate(polygons)
        return cv2.boxPoints(cv2.minAreaRect(around.astype(np.float32))).astype(np.float64)


class YoloPose(YoloDetect):
    name = "yolo-pose"
    description = "images/ and labels/*.txt (class cx cy w h, then kpt_shape keypoints), kpt_shape in data.yaml"

    def settings_of(self, config: dict[str, Any], where: str) -> dict[str, Any]:
        shape = config.get("kpt_shape")
        if not (isinstance(shape, list) and len(shape) == 2 and shape[0] >= 1 and shape[1] in (2, 3)):
            raise LayoutError(f"'{where}': kpt_shape must be [keypoints, 2 or 3], e.g. [17, 3]; got {shape!r}.")
        flip = config.get("flip_idx")
        if flip is not None and sorted(flip) != list(range(shape[0])):
            raise LayoutError(
                f"'{where}': flip_idx must order the {shape[0]} keypoints 0-{shape[0] - 1}; got {flip!r}."
            )
        return {"keypoints": int(shape[0]), "ndim": int(shape[1]), "flip_idx": list(flip) if flip else None}

    def columns_problem(self, count: int, settings: dict[str, Any]) -> str:
        expected = 5 + settings["keypoints"] * settings["ndim"]
        return (
            ""
            if count == expected
            else f"{count} values; kpt_shape {settings['keypoints']}x{settings['ndim']} needs {expected}"
        )

    def coordinates(self, values: list[float], settings: dict[str, Any]) -> list[float]:
        ndim = settings["ndim"]
        points = values[4:]
        return values[:4] + [v for k, v in enumerate(points) if k % ndim < 2]

    def record(self, values: list[float], settings: dict[str, Any]) -> tuple[Any, str]:
        box, problem = _box_record(values[:4])
        return (box, tuple(values[4:])), problem

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        ndim = settings["ndim"]
        boxes, keypoints = [], []
        for box, points in objects.records:
            boxes.append(_pixels(box, width, height))
            flat = []
            for k in range(0, len(points), ndim):
                x, y = points[k], points[k + 1]
                visibility = points[k + 2] if ndim == 3 else (0.0 if x < 0 or y < 0 else 2.0)
                flat += [x * width, y * height, visibility]
            keypoints.append(flat)
        return Instances(list(objects.classes), boxes, list(range(objects.count)), keypoints=keypoints)

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        width, height = size
        ndim, flip = settings["ndim"], settings.get("flip_idx")
        lines = []
        for class_id, box, flat in zip(moved.classes, moved.boxes, moved.keypoints, strict=True):
            points = [flat[k : k + 3] for k in range(0, len(flat), 3)]
            if moved.mirrored and flip:  # a mirrored left point is the right one now
                points = [points[j] for j in flip]
            values = []
            for x, y, v in points:
                values += [x / width, y / height, v][:ndim] if v > 0 else [0.0, 0.0, 0.0][:ndim]
            text = " ".join(f"{v:.6f}" if k % ndim < 2 or ndim == 2 else str(int(v)) for k, v in enumerate(values))
            lines.append(f"{box_line(class_id, box, size)} {text}")
        return _files(paths, lines), [int(line.split()[0]) for line in lines]


def _files(paths: tuple[str, ...], lines: list[str]) -> Files:
    return {path: "".join(f"{line}\n" for line in lines).encode() for path in paths}


# --- the YAML -----------------------------------------------------------------------------------------------


def dataset_yaml(tree: Tree) -> tuple[str | None, dict[str, Any]]:
    """The dataset YAML at the root (data.yaml first, else the one YAML there) and its contents.

    Raises:
        LayoutError: it cannot be read, is too large, uses aliases, or is not a mapping.
    """
    root = [f for f in tree.files if "/" not in f and f.endswith((".yaml", ".yml"))]
    name = next((n for n in YAML_NAMES if n in root), None)
    if name is None and len(root) == 1:
        name = root[0]
    if name is None:
        return None, {}
    try:
        config = load_yaml(tree.text(name, MAX_DATASET_FILE_BYTES))
    except (OSError, TextFileError) as e:
        reason = e.strerror if isinstance(e, OSError) else str(e)
        raise LayoutError(f"Cannot read '{tree.where(name)}': {reason}. Fix the file.") from None
    if config is None:
        return name, {}
    if not isinstance(config, dict):
        raise LayoutError(f"'{tree.where(name)}' is not a YAML mapping (train:, val:, names: ...). Fix the file.")
    return name, config


def class_names(config: dict[str, Any], where: str) -> tuple[str, ...]:
    """The YAML's class names by id: a list, or ``{id: name}`` with every id from 0 (Ultralytics' rule).

    Raises:
        LayoutError: names that do not map ids 0..N-1 to names, or that disagree with ``nc``.
    """
    names, nc = config.get("names"), config.get("nc")
    if names is None:
        return tuple(f"class_{i}" for i in range(nc)) if isinstance(nc, int) and nc > 0 else ()
    if isinstance(names, dict):
        try:
            ids = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            key, value = next(iter(names.items()))
            raise LayoutError(
                f"'{where}': names maps {key!r} to {value!r}; it must map class ids to names, e.g. {{0: {key}}}. "
                "Fix the file."
            ) from None
        if sorted(ids) != list(range(len(ids))):
            missing = sorted(set(range(max(ids) + 1)) - set(ids))
            raise LayoutError(
                f"'{where}': names gives class ids {sorted(ids)}, which skips {missing}: every id from 0 needs a "
                "name, or the labels' ids would mean other classes. Fix the file."
            )
        names = [ids[i] for i in range(len(ids))]
    if not isinstance(names, list):
        raise LayoutError(f"'{where}': names must be a list or a mapping of ids to names; got {names!r}.")
    if isinstance(nc, int) and nc != len(names):
        raise LayoutError(f"'{where}': nc is {nc} but names has {len(names)} entries. Fix the file.")
    return tuple(str(n) for n in names)


NAMES_FILES = ("obj.names", "classes.txt", "classes.names")


def _names_file(tree: Tree) -> str | None:
    """A class names file at the root or beside a labels folder (one name a line, line N naming class N)."""
    return next((f for f in tree.files if posixpath.basename(f) in NAMES_FILES and f.count("/") <= 1), None)


def read_splits(
    tree: Tree, yaml_name: str | None, config: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(image -> split, split -> list file, notes) from the YAML's split keys, resolved as Ultralytics does."""
    splits: dict[str, str] = {}
    lists: dict[str, str] = {}
    notes: list[str] = []
    if yaml_name is None:
        return splits, lists, notes
    files = set(tree.files)
    base = _base(tree, yaml_name, config, notes)
    for key, role in SPLIT_KEYS.items():
        value = config.get(key)
        for entry in (value if isinstance(value, list) else [value]) if value else []:
            rel = _resolve(base, str(entry), files)
            if rel is None:
                notes.append(f"{yaml_name}'s {key}: '{entry}' is not in the dataset")
                continue
            found = (_list_images(tree, rel, notes) if rel in files
                     else [f for f in tree.images if f.startswith(rel + "/")])  # fmt: skip
            if rel in files:
                lists[role] = rel
            for image in found:
                if image in splits and splits[image] != role:
                    notes.append(f"{yaml_name}'s {key} repeats images of its {splits[image]} split ('{entry}'): "
                                 f"they are read as {splits[image]}")  # fmt: skip
                    break
            for image in found:
                splits.setdefault(image, role)
    return splits, lists, notes


def _base(tree: Tree, yaml_name: str, config: dict[str, Any], notes: list[str]) -> str:
    """The folder split paths are relative to: ``path`` when it is in the dataset, else the YAML's folder."""
    folder = posixpath.dirname(yaml_name)
    path = config.get("path")
    if path:
        candidate = posixpath.normpath(posixpath.join(folder, str(path)))
        if candidate in ("", ".") or any(f.startswith(candidate + "/") for f in tree.files):
            return "" if candidate == "." else candidate
        notes.append(f"{yaml_name}'s path '{path}' is not in the dataset: its splits are read from beside it")
    return folder


def _resolve(base: str, entry: str, files: set[str]) -> str | None:
    for candidate in (entry, entry[3:] if entry.startswith("../") else None):
        if candidate is None:
            continue
        rel = posixpath.normpath(posixpath.join(base, candidate))
        if rel.startswith("../") or rel == "..":
            continue
        rel = "" if rel == "." else rel
        if rel in files or any(f.startswith(rel + "/") for f in files):
            return rel
    return None


def _list_images(tree: Tree, list_file: str, notes: list[str]) -> list[str]:
    """The images a split list names (``./images/a.jpg`` is relative to the list's folder; an absolute path
    inside the dataset is the file it names). Lines that lead outside the dataset, or name no file of it, are
    not read, and said so in ``notes``."""
    try:
        text = tree.text(list_file, MAX_DATASET_FILE_BYTES * 64)
    except (OSError, TextFileError) as e:
        raise LayoutError(f"Cannot read split list '{tree.where(list_file)}': {e}. Fix the file.") from None
    folder, images, outside, missing = posixpath.dirname(list_file), [], [], []
    files = set(tree.files)
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        rel = inside(tree, folder, line)
        if rel is None:
            outside.append(line)
        elif rel not in files:
            missing.append(line)
        else:
            images.append(rel)
    for found, what in ((outside, "lead outside the dataset"), (missing, "name no file of the dataset")):
        if found:
            shown = ", ".join(repr(line[:80]) for line in found[:3]) + (", ..." if len(found) > 3 else "")
            notes.append(f"{len(found)} line(s) of {list_file} {what}, not read: {shown}")
    return images


def _split(named: str | None, folder: str | None, has_splits: bool) -> str | None:
    """An image's split: the YAML's (called as its folder is, when the folder names the same split: Roboflow's
    ``valid/``), else its folder's; an image under no split of a YAML that names splits is not augmented."""
    if named is None:
        return folder or (UNLISTED if has_splits else None)
    family = {"valid": "val", "validation": "val"}
    return folder if folder is not None and family.get(folder, folder) == named else named


def _split_paths(config: dict[str, Any], labels: LabelSet, by_split: dict[str | None, list[str]]) -> dict[str, Any]:
    """The output YAML's split keys: the source's, pointing at the same folders or lists inside the output."""
    lists: dict[str, str] = labels.details.get("lists") or {}
    paths: dict[str, Any] = {}
    for key, role in SPLIT_KEYS.items():
        if not config.get(key):
            continue
        if role in lists:
            paths[key] = lists[role]
        elif by_split.get(role):
            paths[key] = common_folder(by_split[role])
    if not paths:  # no YAML splits: the folders the images are in
        for split, images in by_split.items():
            name = "val" if split in ("val", "valid", "validation") else split
            if name in ("train", "val", "test"):
                paths[str(name)] = common_folder(images)
        if None in by_split:
            paths = {"train": common_folder(by_split[None]), "val": common_folder(by_split[None])}
    return paths


def _by_split(written: list[Written]) -> dict[str | None, list[str]]:
    """The images written per split, a validation split under ``val`` whatever its folder is called."""
    found: dict[str | None, list[str]] = {}
    for w in written:
        if is_image_name(w.output):
            found.setdefault("val" if w.split in ("valid", "validation") else w.split, []).append(w.output)
    return found


def common_folder(images: list[str]) -> str:
    folders = {posixpath.dirname(i) for i in images}
    return posixpath.commonpath(list(folders)) if len(folders) > 1 else folders.pop()


def _list_text(list_file: str, images: list[str]) -> str:
    folder = posixpath.dirname(list_file)
    return "".join(f"./{posixpath.relpath(i, folder or '.')}\n" for i in images)


def _check_split(yaml_name: str, key: str, entry: str, images: list[str], read: Read, labels: LabelSet) -> list[str]:
    """Does an output YAML's split entry point at exactly the images the manifest lists for that split?"""
    if entry.endswith(".txt"):
        try:
            listed = [line.strip() for line in decode_text(read(entry)).splitlines() if line.strip()]
        except (OSError, TextFileError) as e:
            return [f"{entry}: the {key} list cannot be read: {e}"]
        expected = _list_text(entry, images).splitlines()
        if listed != expected:
            missing = sorted(set(expected) - set(listed))[:3]
            extra = sorted(set(listed) - set(expected))[:3]
            return [
                f"{entry}: lists {len(listed)} images, the manifest {len(expected)} (missing {missing}, extra {extra})"
            ]
        return []
    inside = [i for i in images if i.startswith(entry.rstrip("/") + "/")]
    if images and not inside:
        return [f"{yaml_name}'s {key}: '{entry}' holds none of the {len(images)} {key} images written"]
    return []


def dump_yaml(config: dict[str, Any]) -> bytes:

    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()


# --- numbers ------------------------------------------------------------------------------------------------


def _numbers(fields: list[str]) -> tuple[int, list[float]]:
    """A line's class id and values (ValueError when they are not numbers, or the id is not whole)."""
    class_value = float(fields[0])
    if not class_value.is_integer():
        raise ValueError(fields[0])
    values = [float(v) for v in fields[1:]]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("not finite")
    return int(class_value), values


def _box_record(values: list[float]) -> tuple[Any, str]:
    cx, cy, w, h = values
    if w <= 0 or h <= 0:
        return None, "zero-size box"
    corners = clip_corners(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, 1.0, 1.0)
    if corners is None:
        return None, "box outside the image"
    return corners, ""


def _pixels(corners: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = corners
    return (x0 * width, y0 * height, x1 * width, y1 * height)


def box_line(class_id: int, box: tuple[float, ...], size: tuple[int, int]) -> str:
    width, height = size
    x0, y0, x1, y1 = box
    cx, cy, w, h = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height
    return f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"
