"""LabelMe: a JSON beside each image (``shapes``, ``imagePath``, ``imageHeight``/``imageWidth``), as LabelMe 3 to 5
saves it; LabelMe 3's shapes have no ``shape_type`` (a polygon).

Shapes move with the pixels by their kind: a ``rectangle`` (two corners) as a box, a ``polygon`` as its filled
outline (a mask, traced back to a polygon), a ``circle`` (centre and a point on the rim), ``point``, ``line``,
``linestrip`` and ``points`` as their points. A copy's JSON is its source's with ``imagePath``, the image size
and each shape's points changed, ``imageData`` set to null (LabelMe reads the image from ``imagePath``), and
shapes that left the image removed; every other key of the document and of a shape is kept. A point that
leaves the copy leaves its shape's list of points (a line keeps at least two, else the shape goes); a circle
that the copy's edge cuts becomes the circle of the area left inside it. ``mask`` shapes are not read: such a
shape stops the run, naming the file (``--skip-bad-labels`` leaves it out).
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import cv2
import numpy as np

from expander.dataset import Item, natural_key
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read
from expander.labels.evidence import examine
from expander.labels.instances import Instances, check_mask_memory, fill_polygons, polygon_box, trace_polygons
from expander.labels.tree import Tree, inside, renamed_label, split_of, stem
from expander.limits import MAX_OBJECTS_PER_IMAGE
from expander.plan import Output
from expander.textfiles import TextFileError, decode_text, load_json

# shape_type -> (fewest points, most points); LabelMe 3 wrote no shape_type: a polygon
SHAPES = {"rectangle": (2, 2), "polygon": (3, None), "circle": (2, 2), "point": (1, 1), "line": (2, 2),
          "linestrip": (2, None), "points": (1, None)}  # fmt: skip
AREAS = ("polygon", "circle")  # shapes that move as masks
POINT = 0.5  # half the side of the box that carries a point shape through the pipeline


class LabelMe(LabelFormat):
    name = "labelme"
    description = "a LabelMe JSON beside each image (<name>.json with shapes and imagePath)"

    def coverage(self, tree: Tree) -> int:
        return len(_pairs(tree))

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        pairs, documents = _pairs(tree), _documents(tree)
        parsed = {image: (json_name, *documents[json_name]) for image, json_name in pairs.items()}
        names = tuple(sorted({str(s.get("label", "")) for _, d, _ in parsed.values() if d for s in _shapes(d)} - {""},
                             key=natural_key))  # fmt: skip
        index = {n: i for i, n in enumerate(names)}
        items = [Item(image, split_of(image), "", _objects(json_name, document, error, index))
                 for image, (json_name, document, error) in parsed.items()]  # fmt: skip
        folders = {posixpath.dirname(j) for j in pairs.values()}
        items += [Item(i, split_of(i), "", Objects()) for i in tree.images
                  if i not in pairs and posixpath.dirname(i) in folders]  # background images  # fmt: skip
        items.sort(key=lambda i: natural_key(i.rel_path))
        return items, LabelSet(self.name, names)

    def masked(self, objects: Objects) -> int:
        return objects.count if any(r["shape_type"] in AREAS for r in objects.records) else 0

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        areas = any(r["shape_type"] in AREAS for r in objects.records)
        if areas:
            check_mask_memory(objects.count, height, width)
        boxes, masks, keypoints = [], [], []
        for record in objects.records:
            points = np.array(record["points"], dtype=np.float64).reshape(-1, 2)
            kind = record["shape_type"]
            if kind == "rectangle":
                boxes.append(polygon_box(points))
            elif kind == "circle":
                radius = float(np.linalg.norm(points[1] - points[0]))
                boxes.append((*(points[0] - radius), *(points[0] + radius)))
            elif kind == "polygon":
                boxes.append(polygon_box(points))
            else:
                x0, y0, x1, y1 = polygon_box(points)
                boxes.append((x0 - POINT, y0 - POINT, x1 + POINT, y1 + POINT))
            if areas:
                masks.append(_mask(kind, points, boxes[-1], height, width))
            keypoints.append([] if kind in ("rectangle", "polygon") else
                             [v for x, y in points for v in (x, y, 2.0)])  # fmt: skip
        return Instances(list(objects.classes), boxes, list(range(objects.count)), masks, keypoints)

    def outlines(self, objects: Objects, height: int, width: int) -> list[list[list[float]] | None]:
        return [r["points"] if r["shape_type"] == "polygon" else None for r in objects.records]

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        if objects is not None and objects.label_files:
            return (renamed_label(objects.label_files[0], source, output),)
        return () if output == source else (posixpath.join(posixpath.dirname(output), f"{stem(output)}.json"),)

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        head = dict(objects.head or {"version": "5.5.0", "flags": {}})
        shapes, classes = [], []
        for position, source_index in enumerate(moved.index):
            record = objects.records[source_index]
            points = _moved_points(record["shape_type"], moved, position)
            if points is None:
                continue
            shapes.append({**record["shape"], "points": [[round(x, 2), round(y, 2)] for x, y in points]})
            classes.append(moved.classes[position])
        width, height = size
        image_path = posixpath.relpath(out.rel_path, posixpath.dirname(paths[0]) or ".")  # from the JSON's folder
        document = {**head, "shapes": shapes, "imagePath": image_path, "imageData": None, "imageHeight": height,
                    "imageWidth": width}  # fmt: skip
        return {paths[0]: (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()}, classes

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        index = {n: i for i, n in enumerate(labels.names)}
        found: dict[int, int] = {}
        for data in files.values():
            for shape in _shapes(load_json(data)):
                class_id = index.get(str(shape.get("label")), -1)
                found[class_id] = found.get(class_id, 0) + 1
        return found

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        for name, data in files.items():
            try:
                document = load_json(decode_text(data))
            except TextFileError as e:
                return f"{name} cannot be parsed: {e}"
            if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
                return f"{name} has no list of shapes"
            size = (document.get("imageWidth"), document.get("imageHeight"))
            if size != (width, height):
                return f"{name} says its image is {size[0]}x{size[1]}, not {width}x{height}"
            for shape in document["shapes"]:
                if str(shape.get("label")) not in labels.names:
                    return f"{name}: label {shape.get('label')!r} is not one of the dataset's"
                points = np.array(shape.get("points") or [], dtype=np.float64).reshape(-1, 2)
                if len(points) and (points.min() < -0.5 or (points - (width, height)).max() > 0.5):
                    return f"{name}: a {shape.get('shape_type', 'polygon')} leaves the image"
        return ""


# --- reading ------------------------------------------------------------------------------------------------


def _pairs(tree: Tree) -> dict[str, str]:
    """Image -> its LabelMe JSON: ``imagePath`` from the JSON's folder, else the image of the same name beside it."""
    if "labelme" not in tree.cache:
        images = set(tree.images)
        beside = {posixpath.splitext(i)[0]: i for i in tree.images}
        found: dict[str, str] = {}
        for name, (document, _) in _documents(tree).items():
            path = document.get("imagePath") if document else None
            named = inside(tree, posixpath.dirname(name), str(path).replace("\\", "/")) if path else None
            image = named if named in images else beside.get(posixpath.splitext(name)[0])
            if image is not None:
                found.setdefault(image, name)
        tree.cache["labelme"] = found
    return tree.cache["labelme"]


def _documents(tree: Tree) -> dict[str, tuple[dict | None, str]]:
    """Every LabelMe JSON of the tree (by its content), parsed once: (document, or None and why not)."""
    if "labelme-documents" not in tree.cache:
        found = {}
        for name in tree.files:
            if (
                name.endswith(".json")
                and (evidence := examine(tree, name)) is not None
                and evidence.reads_as == "labelme"
            ):
                found[name] = _load(tree, name)
        tree.cache["labelme-documents"] = found
    return tree.cache["labelme-documents"]


def _load(tree: Tree, json_name: str) -> tuple[dict | None, str]:
    try:
        document = load_json(tree.text(json_name))
    except (OSError, TextFileError) as e:
        return None, f"{json_name}: cannot be read: {e.strerror if isinstance(e, OSError) else e}"
    if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
        return None, f"{json_name}: not a LabelMe document (no list of shapes)"
    return document, ""


def _shapes(document: Any) -> list[dict]:
    shapes = document.get("shapes") if isinstance(document, dict) else None
    return [s for s in shapes if isinstance(s, dict)] if isinstance(shapes, list) else []


def _objects(json_name: str, document: dict | None, error: str, index: dict[str, int]) -> Objects:
    if document is None:
        return Objects((json_name,), errors=(error,), unreadable=True)
    shapes = _shapes(document)
    if len(shapes) > MAX_OBJECTS_PER_IMAGE:
        error = f"{json_name}: {len(shapes):,} shapes, more than the {MAX_OBJECTS_PER_IMAGE:,} an image may have"
        return Objects((json_name,), errors=(error,), unreadable=True)
    classes, records, problems, errors = [], [], [], []
    width, height = document.get("imageWidth"), document.get("imageHeight")
    for number, shape in enumerate(shapes, 1):
        kind = shape.get("shape_type") or "polygon"
        where = f"{json_name} shape {number} ({shape.get('label', 'no label')}, {kind})"
        if kind not in SHAPES:
            errors.append(f"{where}: shape type {kind!r} is not read (rectangle, polygon, circle, point, line, "
                          "linestrip, points are)")  # fmt: skip
            continue
        try:
            points = np.array(shape.get("points"), dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            errors.append(f"{where}: points are not [x, y] pairs")
            continue
        fewest, most = SHAPES[kind]
        if len(points) < fewest or (most is not None and len(points) > most):
            errors.append(f"{where}: {len(points)} point(s); a {kind} has {fewest}" + ("" if most == fewest else "+"))
            continue
        x0, y0, x1, y1 = polygon_box(points)
        if str(shape.get("label") or "") not in index:
            problems.append(f"{where}: no label")
        elif kind in ("rectangle", "polygon") and (x1 <= x0 or y1 <= y0):
            problems.append(f"{where}: no area")
        elif (
            isinstance(width, int | float)
            and isinstance(height, int | float)
            and (x1 < 0 or y1 < 0 or x0 > width or y0 > height)
        ):
            problems.append(f"{where}: outside the image")
        else:
            classes.append(index[str(shape.get("label"))])
            records.append({"shape_type": kind, "points": points.tolist(), "shape": shape})
    head = {k: v for k, v in document.items() if k not in ("shapes", "imageData")}
    return Objects((json_name,), tuple(classes), tuple(records), head, tuple(problems), tuple(errors))


def _mask(kind: str, points: np.ndarray, box: tuple[float, ...], height: int, width: int) -> np.ndarray:
    if kind == "circle":
        mask = np.zeros((height, width), np.uint8)
        radius = float(np.linalg.norm(points[1] - points[0]))
        cv2.circle(mask, tuple(round(v) for v in points[0]), round(radius), 1, thickness=-1)
        return mask
    if kind == "polygon":
        return fill_polygons([points], height, width)
    x0, y0, x1, y1 = box
    corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    return fill_polygons([corners], height, width)


# --- writing ------------------------------------------------------------------------------------------------


def _moved_points(kind: str, moved: Instances, position: int) -> list[tuple[float, float]] | None:
    """A moved shape's points in LabelMe's form; None when too little of it is left to be one."""
    if kind == "rectangle":
        x0, y0, x1, y1 = moved.boxes[position]
        return [(x0, y0), (x1, y1)]
    flat = moved.keypoints[position] if moved.keypoints else []
    seen = [(flat[k], flat[k + 1]) for k in range(0, len(flat), 3) if flat[k + 2] > 0]
    if kind == "polygon" or (kind == "circle" and len(seen) < 2):
        polygons = trace_polygons(moved.masks[position]) if moved.masks else []
        if not polygons:
            return None
        if kind == "polygon":
            return [(float(x), float(y)) for x, y in polygons[0]]
        (cx, cy), radius = cv2.minEnclosingCircle(polygons[0].astype(np.float32))
        area = abs(cv2.contourArea(polygons[0].astype(np.float32)))
        radius = min(float(radius), float(np.sqrt(area / np.pi)))
        return [(float(cx), float(cy)), (float(cx) + radius, float(cy))]
    if kind in ("linestrip", "points"):
        return seen if len(seen) >= SHAPES[kind][0] else None
    return seen if len(seen) == len(flat) // 3 else None  # a point, a line, a circle: whole or not at all
