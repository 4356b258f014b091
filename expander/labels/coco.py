"""COCO: one annotation JSON per split (``images``, ``annotations``, ``categories``).

Both common layouts are read: Roboflow's (``<split>/_annotations.coco.json`` beside the images) and
the original's (``annotations/instances_<split>.json`` with images in ``<split>/`` or ``images/<split>/``):
an image's ``file_name`` is looked up beside the JSON first, then in those folders. Boxes, polygon
and RLE segmentation, and keypoints move with the pixels; everything else of an annotation is kept.

Each output's image entry and annotations are written by its worker as a small JSON file under
``.coco/`` (the output's label file, so a run can resume and be verified from disk); the split's
annotation JSON is assembled from them, in plan order, when the run ends. Originals keep their
image and annotation ids; copies get new ones after the largest.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from expander.dataset import Item, natural_key
from expander.errors import LayoutError
from expander.labels.files import Tree, split_of
from expander.labels.objects import LabelSet, Objects

MAX_JSON_BYTES = 2 << 30  # COCO 2017's train annotations are 448 MB
FRAGMENTS = ".coco"  # per-output annotation files, inside the output folder


def _annotation_files(tree: Tree) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in tree.files:
        base = posixpath.basename(name)
        if not name.endswith(".json") or name == "expander.json":
            continue
        if not (
            "annotation" in base or base.startswith("instances") or "coco" in base or "/annotations/" in f"/{name}"
        ):
            continue
        path = tree.root / name
        try:
            if path.stat().st_size > MAX_JSON_BYTES:
                raise ValueError(f"larger than {MAX_JSON_BYTES >> 30} GB")
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as e:  # named like annotations, so a broken one is worth stopping for
            reason = e.strerror if isinstance(e, OSError) else " ".join(str(e).split())
            raise LayoutError(
                f"Cannot read annotation file '{path}': {reason}. Fix it, or pass --labels with another format "
                "(--labels none reads class folders)."
            ) from None
        if (
            isinstance(data, dict)
            and isinstance(data.get("images"), list)
            and isinstance(data.get("annotations"), list)
        ):
            found.append((name, data))
    return found


def detect(tree: Tree) -> bool:
    return bool(_annotation_files(tree))


def _image_base(tree: Tree, json_name: str, images: list[dict]) -> str:
    """The folder ``file_name`` is relative to: beside the JSON, else a split folder near it."""
    folder = posixpath.dirname(json_name)
    parent = posixpath.dirname(folder)
    stem = posixpath.splitext(posixpath.basename(json_name))[0]
    split = stem.split("_")[-1]  # instances_train2017 -> train2017
    candidates = [folder, parent, posixpath.join(parent, split), posixpath.join(parent, "images", split),
                  posixpath.join(parent, "images")]  # fmt: skip
    files = set(tree.files)
    first = next((str(i.get("file_name")) for i in images if i.get("file_name")), None)
    for candidate in candidates:
        if first is not None and posixpath.normpath(posixpath.join(candidate, first)).lstrip("./") in files:
            return candidate
    return folder


def scan(tree: Tree) -> tuple[list[Item], LabelSet]:
    found = _annotation_files(tree)
    categories = sorted({c["id"]: c for _, data in found for c in data.get("categories", [])}.values(),
                        key=lambda c: c["id"])  # fmt: skip
    index = {c["id"]: i for i, c in enumerate(categories)}
    names = tuple(str(c.get("name", c["id"])) for c in categories)
    files = set(tree.files)
    items, orphans, jsons, image_json = [], [], {}, {}
    for json_name, data in found:
        base = _image_base(tree, json_name, data["images"])
        jsons[json_name] = {"base": base, **{k: v for k, v in data.items() if k not in ("images", "annotations")}}
        by_image: dict[Any, list[dict]] = {}
        for annotation in data["annotations"]:
            by_image.setdefault(annotation.get("image_id"), []).append(annotation)
        for entry in data["images"]:
            rel = posixpath.normpath(posixpath.join(base, str(entry.get("file_name", "")))).lstrip("./")
            if rel not in files:
                orphans.append(f"{json_name}: image {entry.get('id')} '{entry.get('file_name')}'")
                continue
            image_json[rel] = json_name
            objects = _objects(json_name, entry, by_image.get(entry.get("id"), []), index)
            items.append(Item(rel, split_of(rel) or _split_of_json(json_name), "", objects))
    items.sort(key=lambda i: natural_key(i.rel_path))
    details = {"jsons": jsons, "image_json": image_json}
    return items, LabelSet("coco", names, tuple(name for name, _ in found), tuple(orphans), details)


def _split_of_json(json_name: str) -> str | None:
    stem = posixpath.splitext(posixpath.basename(json_name))[0].lower()
    for split in ("train", "validation", "valid", "val", "test"):
        if split in stem:
            return split
    return None


def _objects(json_name: str, entry: dict, annotations: list[dict], index: dict) -> Objects:
    classes, boxes, extra, problems = [], [], [], []
    width, height = entry.get("width") or 0, entry.get("height") or 0
    for a in annotations:
        where = f"{json_name}: annotation {a.get('id')} of '{entry.get('file_name')}'"
        bbox = a.get("bbox")
        if a.get("category_id") not in index:
            problems.append(f"{where}: category {a.get('category_id')} is not in categories")
        elif not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox)):
            problems.append(f"{where}: no [x, y, width, height] bbox")
        elif bbox[2] <= 0 or bbox[3] <= 0:
            problems.append(f"{where}: zero-size box")
        elif (
            width
            and height
            and (bbox[0] >= width or bbox[1] >= height or bbox[0] + bbox[2] <= 0 or bbox[1] + bbox[3] <= 0)
        ):
            problems.append(f"{where}: box outside the image")
        else:
            classes.append(index[a["category_id"]])
            x, y, w, h = (float(v) for v in bbox)
            boxes.append((x, y, w, h))
            extra.append(a)
    head = {"image": entry, "annotations": annotations}  # as read: an original's labels are written unchanged
    return Objects(None, tuple(classes), tuple(boxes), tuple(extra), head, tuple(problems))


def fragment_path(output: str) -> str:
    return f"{FRAGMENTS}/{output}.json"


def load_masks(objects: Objects, kept: list[int], height: int, width: int) -> list[np.ndarray]:
    """One mask per kept object when any has a segmentation (zeros for those without); else none."""
    segmentations = [objects.extra[i].get("segmentation") for i in kept]
    if not any(segmentations):
        return []
    return [_rasterise(s, height, width) for s in segmentations]


def _rasterise(segmentation: Any, height: int, width: int) -> np.ndarray:
    from pycocotools import mask as coco_mask

    if isinstance(segmentation, list) and segmentation:  # polygons, rasterised as COCO's tools do
        polygons = [[float(v) for v in p] for p in segmentation if isinstance(p, list) and len(p) >= 6]
        if not polygons:
            return np.zeros((height, width), np.uint8)
        return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygons, height, width))).astype(np.uint8)
    if isinstance(segmentation, dict) and "counts" in segmentation:
        rle = segmentation
        if isinstance(rle["counts"], list):
            rle = coco_mask.frPyObjects(rle, *rle["size"])
        decoded = coco_mask.decode(rle)
        if decoded.shape != (height, width):
            decoded = cv2.resize(decoded, (width, height), interpolation=cv2.INTER_NEAREST)
        return decoded.astype(np.uint8)
    return np.zeros((height, width), np.uint8)


def render(objects: Objects, moved, output: str, base: str, size: tuple[int, int], original: bool) -> tuple[bytes, int]:
    """An output's fragment (its image entry and moved annotations, as canonical JSON) and how many objects."""
    width, height = size
    head = dict((objects.head or {}).get("image") or {})
    head.update(file_name=posixpath.relpath(output, base or "."), width=width, height=height)
    annotations = []
    for position, source_index in enumerate(moved.kept):
        a = dict(objects.extra[source_index])
        mask = moved.masks[position] if moved.masks else None
        if mask is not None and a.get("segmentation"):
            if not mask.any():
                continue  # the object's pixels all left the image
            a["segmentation"] = _segmentation(mask, a["segmentation"])
            x, y, w, h = cv2.boundingRect(cv2.findNonZero(mask))
            a["bbox"] = [float(x), float(y), float(w), float(h)]
            a["area"] = float(mask.sum())
        else:
            a["bbox"] = [round(float(v), 2) for v in moved.boxes[position]]
            a["area"] = round(a["bbox"][2] * a["bbox"][3], 2)
        if moved.keypoints and moved.keypoints[position]:
            a["keypoints"] = [round(v, 2) if k % 3 < 2 else int(v) for k, v in enumerate(moved.keypoints[position])]
            a["num_keypoints"] = sum(1 for v in a["keypoints"][2::3] if v > 0)
        annotations.append(a)
    if not original:
        head.pop("id", None)
        for a in annotations:
            a.pop("id", None)
            a.pop("image_id", None)
    return canonical({"image": head, "annotations": annotations}), len(annotations)


def _segmentation(mask: np.ndarray, like: Any) -> Any:
    """A mask as the source stored it: polygons, or RLE (compressed, as pycocotools writes it)."""
    from pycocotools import mask as coco_mask

    if isinstance(like, dict):
        rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    # Traced on the mask at twice its size, the outline runs along pixel edges rather than through the
    # centres of the outermost pixels, so COCO's own rasteriser gives the mask back (99% of pixels on
    # random blobs; holes cannot be polygons) instead of losing its right and bottom rows.
    doubled = cv2.resize(mask.astype(np.uint8), (mask.shape[1] * 2, mask.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(doubled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [[round((float(v) + 0.5) / 2, 2) for v in c.reshape(-1)] for c in contours if len(c) >= 3]


def source_fragment(objects: Objects) -> bytes:
    """An original's fragment: its image entry and every annotation of it, exactly as read."""
    head = objects.head or {}
    return canonical({"image": head.get("image") or {}, "annotations": head.get("annotations") or []})


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def dataset_files(labels: LabelSet, out: Path, written: list[tuple[str, str | None]]) -> dict[str, bytes]:
    """Each split's annotation JSON, from the fragments of the outputs written, in plan order.

    ``written``: (output path, source path) of every output on disk, in plan order.
    """
    details = labels.details
    per_json: dict[str, dict[str, Any]] = {
        name: {**{k: v for k, v in info.items() if k != "base"}, "images": [], "annotations": []}
        for name, info in details["jsons"].items()
    }
    fragments = []
    for output, source in written:
        json_name = details["image_json"].get(source or output)
        if json_name is None:
            continue
        with open(out / fragment_path(output), "rb") as f:
            fragments.append((json_name, json.loads(f.read())))
    next_image = 1 + max(
        (f["image"].get("id", 0) for _, f in fragments if isinstance(f["image"].get("id"), int)), default=0
    )
    next_annotation = 1 + max((a.get("id", 0) for _, f in fragments for a in f["annotations"]
                               if isinstance(a.get("id"), int)), default=0)  # fmt: skip
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
