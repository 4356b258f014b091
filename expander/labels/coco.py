"""COCO: one annotation JSON per split (``images``, ``annotations``, ``categories``).

Both published layouts are read: Roboflow's export (``<split>/_annotations.coco.json`` beside the images,
ids from 0, an unused "supercategory" category first) and COCO's own (``annotations/instances_train2017.json``
with the images in ``train2017/`` or ``images/train2017/``): an image's ``file_name`` is looked up beside the
JSON first, then in those folders. Boxes, polygon and RLE segmentation, and keypoints move with the pixels;
everything else of an annotation is kept.

Each output's image entry and annotations are written by its worker as a small JSON file under ``.coco/``
(the output's label file, so a run can resume and be verified from disk, and a shard can carry it); the
split's annotation JSON is assembled from them, in plan order, when the run ends. Originals keep their
image and annotation ids; copies get new ones after the largest.

Bounds: a JSON is read up to 2 GB (COCO 2017's train annotations are 448 MB); an image with more than
MAX_OBJECTS_PER_IMAGE annotations, an RLE whose size is not its image's, or image ids given twice are named,
never guessed at.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from expander.dataset import Item, natural_key
from expander.errors import LayoutError
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read, Written
from expander.labels.instances import (
    Instances,
    box_fits,
    check_mask_memory,
    clip_corners,
    mask_box,
    trace_polygons,
)
from expander.labels.tree import Tree, inside, split_in_name, split_of
from expander.limits import MAX_OBJECTS_PER_IMAGE
from expander.plan import Output
from expander.textfiles import MB, TextFileError, load_json

MAX_JSON_BYTES = 2048 * MB
BASE_SAMPLE = 50  # images of a JSON looked up to find the folder its file_names are relative to
FRAGMENTS = ".coco"  # per-output annotation files, inside the output folder
MAX_POLYGON_POINTS = 100_000  # per polygon; COCO's longest has a few hundred


class Coco(LabelFormat):
    name = "coco"
    description = (
        "an annotation JSON per split: train/_annotations.coco.json (Roboflow) or annotations/instances_train.json "
        "with the images in train/ or images/train/"
    )

    def coverage(self, tree: Tree) -> int:
        files = set(tree.files)
        found = 0
        for json_name, data in _annotation_files(tree):
            base = _image_base(tree, json_name, data["images"])
            names = (inside(tree, base, str(e.get("file_name", ""))) for e in data["images"] if isinstance(e, dict))
            found += sum(1 for name in names if name in files)
        return found

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        found = _annotation_files(tree)
        _refuse_conflicts(tree, found)
        by_id = {
            c["id"]: c for _, data in found for c in data.get("categories", []) if isinstance(c, dict) and "id" in c
        }
        categories = sorted(by_id.values(), key=lambda c: natural_key(str(c["id"])))
        index = {c["id"]: i for i, c in enumerate(categories)}
        names = tuple(str(c.get("name", c["id"])) for c in categories)
        files = set(tree.files)
        items, orphans, errors, jsons, image_json, absolute = [], [], [], {}, {}, 0
        for json_name, data in found:
            base = _image_base(tree, json_name, data["images"])
            jsons[json_name] = {"base": base, **{k: v for k, v in data.items() if k not in ("images", "annotations")}}
            ids = Counter(e.get("id") for e in data["images"] if isinstance(e, dict))
            twice = sorted((str(i) for i, n in ids.items() if n > 1), key=natural_key)
            if twice:
                errors.append(f"{json_name}: image ids given to more than one image: {', '.join(twice[:10])} (whose "
                              "annotations are whose cannot be told; give each image its own id)")  # fmt: skip
            by_image: dict[Any, list[dict]] = {}
            for annotation in data["annotations"]:
                if isinstance(annotation, dict):
                    by_image.setdefault(annotation.get("image_id"), []).append(annotation)
            missing = [a for i, group in by_image.items() if i not in ids for a in group]
            orphans += [f"{json_name}: annotation {a.get('id')} points at image id {a.get('image_id')}, which is not "
                        "in images" for a in missing]  # fmt: skip
            for entry in data["images"]:
                if not isinstance(entry, dict):
                    continue
                rel = inside(tree, base, str(entry.get("file_name", "")))
                if rel is None:
                    orphans.append(f"{json_name}: image {entry.get('id')} '{entry.get('file_name')}' is outside the "
                                   "dataset: not read")  # fmt: skip
                    continue
                if rel not in files:
                    orphans.append(f"{json_name}: image {entry.get('id')} '{entry.get('file_name')}' is not on disk")
                    continue
                image_json[rel] = json_name
                if str(entry.get("file_name")).startswith("/"):  # an absolute path inside the dataset: the
                    entry = {**entry, "file_name": posixpath.relpath(rel, base or ".")}  # output's own, relative
                    absolute += 1
                if ids[entry.get("id")] > 1:
                    error = f"{json_name}: image id {entry.get('id')} of '{rel}' is given to another image too"
                    objects = Objects(errors=(error,), unreadable=True)
                else:
                    objects = _objects(json_name, entry, by_image.get(entry.get("id"), []), index)
                items.append(Item(rel, split_of(rel) or split_in_name(json_name), "", objects))
        items.sort(key=lambda i: natural_key(i.rel_path))
        details = {"jsons": jsons, "image_json": image_json, "flips": _flips(categories), "categories": categories}
        notes = [
            f"{absolute} image file_name(s) given as absolute paths inside the dataset: written relative to "
            "the JSON's image folder, so the output does not point back into the source"
        ] * bool(absolute)
        labels = LabelSet("coco", names, tuple(name for name, _ in found), tuple(orphans), tuple(notes), tuple(errors),
                          details)  # fmt: skip
        return items, labels

    def worker_settings(self, labels: LabelSet) -> dict[str, Any]:
        categories = [{"id": c["id"], "name": c.get("name")} for c in labels.details["categories"]]
        return {"flips": labels.details["flips"], "categories": categories}

    def masked(self, objects: Objects) -> int:
        return objects.count if any(a.get("segmentation") for a in objects.records) else 0

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        boxes, keypoints = [], []
        for a in objects.records:
            x, y, w, h = (float(v) for v in a["bbox"])
            boxes.append((x, y, x + w, y + h))
            points = a.get("keypoints")
            keypoints.append([float(v) for v in points] if _keypoint_list(points) else [])
        masks: list[np.ndarray] = []
        if any(a.get("segmentation") for a in objects.records):
            check_mask_memory(objects.count, height, width)
            masks = [_rasterise(a.get("segmentation"), height, width) for a in objects.records]
        if not any(keypoints):
            keypoints = []
        return Instances(list(objects.classes), boxes, list(range(objects.count)), masks, keypoints)

    def outlines(self, objects: Objects, height: int, width: int) -> list[list[list[float]] | None]:
        """An annotation's polygon when it has exactly one (several parts, or RLE: none)."""
        found: list[list[list[float]] | None] = []
        for a in objects.records:
            polygons = a.get("segmentation")
            one = isinstance(polygons, list) and len(polygons) == 1
            found.append(np.array(polygons[0], dtype=np.float64).reshape(-1, 2).tolist() if one else None)
        return found

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        return (fragment_path(output),)

    def original_labels(self, objects: Objects, source: str, read: Read) -> Files:
        head = objects.head or {}
        return {
            fragment_path(source): canonical(
                {"image": head.get("image") or {}, "annotations": head.get("annotations") or []}
            )
        }

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        """An output's fragment (its image entry and moved annotations, as canonical JSON)."""
        width, height = size
        image = dict((objects.head or {}).get("image") or {})
        output, copy = out.rel_path, out.copy_index is not None
        image.update(file_name=posixpath.relpath(output, _base_of(objects, output) or "."), width=width, height=height)
        if copy:
            image.pop("id", None)  # a copy gets new ids when the split's JSON is assembled; an original keeps its own
        annotations, classes = [], []
        for position, source_index in enumerate(moved.index):
            a = _moved_annotation(dict(objects.records[source_index]), moved, position, settings)
            if a is not None:
                if copy:
                    a.pop("id", None)
                    a.pop("image_id", None)
                annotations.append(a)
                classes.append(moved.classes[position])
        return {paths[0]: canonical({"image": image, "annotations": annotations})}, classes

    def roles(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        return ("coco",) * len(paths)

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        index = {c["id"]: i for i, c in enumerate(labels.details["categories"])}
        found: dict[int, int] = {}
        for data in files.values():
            for a in json.loads(data)["annotations"]:
                class_id = index.get(a.get("category_id"), -1)
                found[class_id] = found.get(class_id, 0) + 1
        return found

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        for data in files.values():
            try:
                fragment = json.loads(data)
                entry = fragment["image"]
                if (entry.get("width"), entry.get("height")) != (width, height):
                    return f"its size {entry.get('width')}x{entry.get('height')} is not its image's {width}x{height}"
                for a in fragment["annotations"]:
                    problem = _box_problem(a.get("bbox"), width, height)
                    if problem:
                        return problem
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return f"cannot be parsed: {type(e).__name__}: {e}"
        return ""

    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        """Each split's annotation JSON, from the fragments of the outputs written, in plan order."""
        details = labels.details
        per_json: dict[str, dict[str, Any]] = {
            name: {**{k: v for k, v in info.items() if k != "base"}, "images": [], "annotations": []}
            for name, info in details["jsons"].items()
        }
        fragments = []
        for output, source in ((w.output, w.source) for w in written):
            json_name = details["image_json"].get(source)
            if json_name is not None:
                fragments.append((json_name, json.loads(read(fragment_path(output)))))
        next_image = 1 + max(
            (f["image"]["id"] for _, f in fragments if isinstance(f["image"].get("id"), int)), default=-1
        )
        next_annotation = 1 + max((a["id"] for _, f in fragments for a in f["annotations"]
                                   if isinstance(a.get("id"), int)), default=-1)  # fmt: skip
        for json_name, fragment in fragments:
            image = fragment["image"]
            if "id" not in image:
                image = {"id": next_image, **image}
                next_image += 1
            per_json[json_name]["images"].append(image)
            for a in fragment["annotations"]:
                if "id" not in a:
                    a = {"id": next_annotation, "image_id": image["id"], **a}
                    next_annotation += 1
                per_json[json_name]["annotations"].append(a)
        return {name: (json.dumps(data, ensure_ascii=False) + "\n").encode() for name, data in per_json.items()}

    def check_dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> list[str]:
        """Each JSON parses, lists exactly the images written for it, with valid boxes and ids, and the source's
        categories."""
        problems: list[str] = []
        expected: dict[str, list[str]] = {}
        for output, source in ((w.output, w.source) for w in written):
            json_name = labels.details["image_json"].get(source)
            if json_name is not None:
                base = labels.details["jsons"][json_name]["base"]
                expected.setdefault(json_name, []).append(posixpath.relpath(output, base or "."))
        for json_name, info in labels.details["jsons"].items():
            try:
                data = load_json(read(json_name))
                problems += _check_json(json_name, data, expected.get(json_name, []), info.get("categories"))
            except (OSError, TextFileError) as e:
                problems.append(f"{json_name}: cannot be read: {e}")
        return problems


def fragment_path(output: str) -> str:
    return f"{FRAGMENTS}/{output}.json"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


# --- reading ------------------------------------------------------------------------------------------------


def _annotation_files(tree: Tree) -> list[tuple[str, dict[str, Any]]]:
    """Every COCO annotation JSON under the tree, parsed once per tree."""
    if "coco" not in tree.cache:
        tree.cache["coco"] = _read_annotation_files(tree)
    return tree.cache["coco"]


def _read_annotation_files(tree: Tree) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in tree.files:
        base = posixpath.basename(name)
        if not name.endswith(".json") or name == "expander.json" or name.startswith(f"{FRAGMENTS}/"):
            continue
        if not ("annotation" in base or base.startswith("instances") or "coco" in base
                or "/annotations/" in f"/{name}"):  # fmt: skip
            continue
        try:
            data = load_json(tree.read(name, MAX_JSON_BYTES))
        except (OSError, TextFileError) as e:  # named like annotations, so a broken one is worth stopping for
            reason = e.strerror if isinstance(e, OSError) else str(e)
            raise LayoutError(
                f"Cannot read annotation file '{tree.where(name)}': {reason}. Fix it, or pass --labels with another "
                "format (--labels none reads class folders)."
            ) from None
        if (
            isinstance(data, dict)
            and isinstance(data.get("images"), list)
            and isinstance(data.get("annotations"), list)
        ):
            found.append((name, data))
    return found


def _refuse_conflicts(tree: Tree, found: list[tuple[str, dict[str, Any]]]) -> None:
    """Stop when the JSONs disagree: a category id naming two classes, or an image listed by two JSONs (sahi's
    tests keep a JSON per image beside one of them all). Whose labels are right cannot be told.

    Raises:
        LayoutError: naming the files and what they disagree on.
    """
    names: dict[Any, dict[str, str]] = {}
    listed: dict[str, list[str]] = {}
    for json_name, data in found:
        for c in data.get("categories", []):
            if isinstance(c, dict) and "id" in c:
                names.setdefault(c["id"], {}).setdefault(str(c.get("name")), json_name)
        base = _image_base(tree, json_name, data["images"])
        for entry in data["images"]:
            rel = inside(tree, base, str(entry.get("file_name", ""))) if isinstance(entry, dict) else None
            if rel is not None and json_name not in listed.setdefault(rel, []):
                listed[rel].append(json_name)
    problems = [f"category id {i} is " + " and ".join(f"'{n}' in {j}" for n, j in by.items())
                for i, by in names.items() if len(by) > 1]  # fmt: skip
    problems += [f"'{rel}' is listed in {' and '.join(jsons)}" for rel, jsons in listed.items() if len(jsons) > 1]
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise LayoutError(
            f"The COCO files in '{tree.location}' disagree, so whose labels are right cannot be told:\n  {shown}\n"
            "Nothing was written. Keep one annotation file per split (move the others out of the dataset)."
        )


def _image_base(tree: Tree, json_name: str, images: list[dict]) -> str:
    """The folder ``file_name`` is relative to: the one of beside the JSON and the split folders near it where
    the most of the first images listed are (one missing image does not move every other)."""
    folder = posixpath.dirname(json_name)
    parent = posixpath.dirname(folder)
    stem = posixpath.splitext(posixpath.basename(json_name))[0]
    split = stem.split("_")[-1]  # instances_train2017 -> train2017
    candidates = [folder, parent, posixpath.join(parent, split), posixpath.join(parent, "images", split),
                  posixpath.join(parent, "images")]  # fmt: skip
    files = set(tree.files)
    first = [str(i["file_name"]) for i in images[:BASE_SAMPLE] if isinstance(i, dict) and i.get("file_name")]
    found = [sum(inside(tree, candidate, name) in files for name in first) for candidate in candidates]
    return candidates[found.index(max(found))] if max(found, default=0) else folder


def _objects(json_name: str, entry: dict, annotations: list[dict], index: dict) -> Objects:
    """An image's usable annotations; the unusable ones are named (a bad polygon costs only that polygon)."""
    where_image = f"{json_name}: image {entry.get('id')} '{entry.get('file_name')}'"
    head = {"image": entry, "annotations": annotations}  # as read: an original's labels are written unchanged
    if len(annotations) > MAX_OBJECTS_PER_IMAGE:
        error = f"{where_image} has {len(annotations):,} annotations, over the limit of {MAX_OBJECTS_PER_IMAGE:,}"
        return Objects(head=head, errors=(error,), unreadable=True)
    width, height = entry.get("width") or 0, entry.get("height") or 0
    classes, records, problems = [], [], []
    for a in annotations:
        where = f"{json_name}: annotation {a.get('id')} of '{entry.get('file_name')}'"
        problem = _annotation_problem(a, index, width, height)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        segmentation, dropped = _usable_segmentation(a.get("segmentation"), width, height)
        if dropped:
            problems.append(f"{where}: {dropped}")
        classes.append(index[a["category_id"]])
        records.append({**a, "segmentation": segmentation} if dropped else a)
    return Objects((), tuple(classes), tuple(records), head, tuple(problems))


def _annotation_problem(a: dict, index: dict, width: float, height: float) -> str:
    bbox = a.get("bbox")
    if a.get("category_id") not in index:
        return f"category {a.get('category_id')} is not in categories"
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox)):
        return "no [x, y, width, height] bbox"
    if bbox[2] <= 0 or bbox[3] <= 0:
        return "zero-size box"
    if width and height and clip_corners(bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3], width, height) is None:
        return "box outside the image"
    return ""


def _usable_segmentation(segmentation: Any, width: int, height: int) -> tuple[Any, str]:
    """The segmentation less what cannot be rasterised, and what was left out ("" when nothing was)."""
    if isinstance(segmentation, list):
        good = [p for p in segmentation if _polygon_ok(p)]
        if len(good) == len(segmentation):
            return segmentation, ""
        return (
            good,
            f"{len(segmentation) - len(good)} of its {len(segmentation)} polygons are not polygons (fewer than 3 "
            "points, no area, too many points, or not numbers) and were left out"
            + ("" if good else " (the box is kept)"),
        )
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if not (isinstance(size, list) and len(size) == 2 and "counts" in segmentation):
            return [], "its RLE has no size and counts: the segmentation was left out (the box is kept)"
        if width and height and [int(v) for v in size] != [height, width]:
            return [], f"its RLE is {size[1]}x{size[0]}, its image {width}x{height}: the segmentation was left out"
        return segmentation, ""
    return segmentation, ""


def _polygon_ok(polygon: Any) -> bool:
    if not (isinstance(polygon, list) and 6 <= len(polygon) <= 2 * MAX_POLYGON_POINTS and len(polygon) % 2 == 0
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in polygon)):  # fmt: skip
        return False
    x, y = np.asarray(polygon[0::2], np.float64), np.asarray(polygon[1::2], np.float64)
    area = np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))  # twice the shoelace area
    return bool(np.isfinite(area)) and abs(area) > 0


def _keypoint_list(points: Any) -> bool:
    return isinstance(points, list) and len(points) % 3 == 0 and bool(points)


def _flips(categories: list[dict]) -> dict[str, list[int]]:
    """Per class index with named keypoints, the order that swaps left and right ones (for mirrored copies)."""
    flips = {}
    for position, category in enumerate(categories):
        names = category.get("keypoints")
        if not isinstance(names, list) or not names:
            continue
        names = [str(n) for n in names]
        order = []
        for name in names:
            twin = name.replace("left", "\0").replace("right", "left").replace("\0", "right")
            order.append(names.index(twin) if twin in names else names.index(name))
        if order != list(range(len(names))):
            flips[str(position)] = order  # str keys: the settings travel through expander.json
    return flips


# --- masks --------------------------------------------------------------------------------------------------


def _rasterise(segmentation: Any, height: int, width: int) -> np.ndarray:

    if isinstance(segmentation, list) and segmentation:  # polygons, rasterised as COCO's tools do
        polygons = [[float(v) for v in p] for p in segmentation]
        return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygons, height, width))).astype(np.uint8)
    if isinstance(segmentation, dict) and "counts" in segmentation:
        rle = segmentation
        if [int(v) for v in rle["size"]] != [height, width]:  # checked when read; an image of another size
            return np.zeros((height, width), np.uint8)
        if isinstance(rle["counts"], list):
            rle = coco_mask.frPyObjects(rle, height, width)
        return coco_mask.decode(rle).astype(np.uint8)
    return np.zeros((height, width), np.uint8)


def _moved_annotation(a: dict, moved: Instances, position: int, settings: dict) -> dict | None:
    """A source annotation with its box, segmentation and keypoints where they moved (None: nothing left)."""
    mask = moved.masks[position] if moved.masks else None
    if mask is not None and a.get("segmentation"):
        box = mask_box(mask)
        if box is None:
            return None  # the object's pixels all left the image
        a["segmentation"] = _segmentation(mask, a["segmentation"])
        a["bbox"] = [box[0], box[1], box[2] - box[0], box[3] - box[1]]
        a["area"] = float(mask.sum())
    else:
        x0, y0, x1, y1 = moved.boxes[position]
        a["bbox"] = [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]
        a["area"] = round(a["bbox"][2] * a["bbox"][3], 2)
    if moved.keypoints and moved.keypoints[position]:
        flat = moved.keypoints[position]
        order = settings["flips"].get(str(moved.classes[position])) if moved.mirrored else None
        if order:  # a mirrored left point is the right one now
            flat = [v for j in order for v in flat[3 * j : 3 * j + 3]]
        a["keypoints"] = [round(v, 2) if k % 3 < 2 else int(v) for k, v in enumerate(flat)]
        a["num_keypoints"] = sum(1 for v in a["keypoints"][2::3] if v > 0)
    return a


def _segmentation(mask: np.ndarray, like: Any) -> Any:
    """A mask as the source stored it: polygons, or RLE (compressed, as pycocotools writes it)."""
    if isinstance(like, dict):
        rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    return [[round(float(v), 2) for v in p.reshape(-1)] for p in trace_polygons(mask)]


def _base_of(objects: Objects, output: str) -> str:
    """The folder the COCO file names are relative to: the source's path less its file_name."""
    file_name = posixpath.normpath(str(((objects.head or {}).get("image") or {}).get("file_name", "")))
    folder = posixpath.dirname(output)
    depth = file_name.count("/")
    for _ in range(depth):
        folder = posixpath.dirname(folder)
    return folder


# --- checks -------------------------------------------------------------------------------------------------


def _box_problem(bbox: Any, width: int, height: int) -> str:
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return f"box {bbox!r} is not [x, y, width, height]"
    if not box_fits(x, y, x + w, y + h, width, height):
        return f"box {bbox} is not inside the image"
    return ""


def _check_json(json_name: str, data: Any, expected: list[str], categories: Any) -> list[str]:
    if not (
        isinstance(data, dict) and isinstance(data.get("images"), list) and isinstance(data.get("annotations"), list)
    ):
        return [f"{json_name}: not a COCO annotation file (no images and annotations lists)"]
    problems = []
    names = [str(i.get("file_name")) for i in data["images"] if isinstance(i, dict)]
    if names != expected:
        missing, extra = sorted(set(expected) - set(names))[:3], sorted(set(names) - set(expected))[:3]
        problems.append(f"{json_name}: lists {len(names)} images, the manifest {len(expected)} "
                        f"(missing {missing}, extra {extra})")  # fmt: skip
    ids = Counter(i.get("id") for i in data["images"] if isinstance(i, dict))
    if any(n > 1 for n in ids.values()):
        problems.append(f"{json_name}: image ids are not unique")
    sizes = {i.get("id"): (i.get("width"), i.get("height")) for i in data["images"] if isinstance(i, dict)}
    for a in data["annotations"]:
        if not isinstance(a, dict) or a.get("image_id") not in sizes:
            problems.append(f"{json_name}: annotation {a.get('id') if isinstance(a, dict) else a!r} points at no image")
            break
        width, height = sizes[a["image_id"]]
        problem = _box_problem(a.get("bbox"), width or 0, height or 0)
        if problem:
            problems.append(f"{json_name}: annotation {a.get('id')}: {problem}")
            break
    if categories is not None and data.get("categories") != categories:
        problems.append(f"{json_name}: its categories differ from the source's")
    return problems
