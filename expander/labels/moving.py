"""Labels that move with the pixels: one source's objects, through ``--size`` and the pipeline.

Pure functions of (pixels, objects, seed) with one exception, the albumentations Compose, which
``Augmenter`` owns and reseeds per output exactly as for class folders (a labelled copy gets the
same pixels an unlabelled run would). Boxes go through albumentations' bbox processing in the
dataset's own box layout (clipped to the image, dropped below ``min_visibility``); masks go through
as masks (nearest-neighbour, so class and instance ids survive); COCO keypoints as keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from expander.labels.objects import Objects


@dataclass
class Labelled:
    """A source's (or a copy's) pixels and labels, in one coordinate frame."""

    image: np.ndarray
    boxes: list[tuple[float, ...]]  # per kept object, in the dataset's box layout
    kept: list[int]  # index into the source Objects of each kept object
    masks: list[np.ndarray] = field(default_factory=list)  # masks format: one id mask; COCO: one per object
    keypoints: list[list[float]] = field(default_factory=list)  # COCO: per kept object, flat [x, y, v, ...]
    mask_per_object: bool = False  # COCO's masks: one per kept object, in the order of ``kept``


def start(objects: Objects, image: np.ndarray, masks: list[np.ndarray], box_format: str) -> Labelled:
    """A source as read: boxes clipped to its real size (a label may say otherwise), nothing moved yet."""
    height, width = image.shape[:2]
    boxes, kept = [], []
    for index, box in enumerate(objects.boxes):
        clipped = _clip(box, box_format, width, height)
        if clipped is not None:
            boxes.append(clipped)
            kept.append(index)
    keypoints = [list(_keypoints(objects, i)) for i in kept]
    return Labelled(image, boxes, kept, masks, keypoints)


def resized(source: Labelled, size: tuple[int, int], box_format: str) -> Labelled:
    """The source at ``size`` (width, height): the image by ``images.resize``, masks nearest-neighbour."""
    from expander.images import resize

    height, width = source.image.shape[:2]
    sx, sy = size[0] / width, size[1] / height
    scale = {"yolo": (1, 1, 1, 1), "coco": (sx, sy, sx, sy), "pascal_voc": (sx, sy, sx, sy)}[box_format]
    boxes = [tuple(v * s for v, s in zip(b, scale, strict=True)) for b in source.boxes]
    masks = [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in source.masks]
    keypoints = [
        [v * (sx if k % 3 == 0 else sy if k % 3 == 1 else 1) for k, v in enumerate(p)] for p in source.keypoints
    ]
    return Labelled(resize(source.image, size), boxes, list(source.kept), masks, keypoints, source.mask_per_object)


def move(augmenter, source: Labelled, seed: int) -> Labelled:
    """One augmented copy. Objects whose box left the image or fell below min_visibility are not kept.

    With a reflecting border (REFLECT_101), albumentations also returns the mirror images of objects that
    the reflection brings into view: they are objects in the copy's pixels, so they are kept as objects
    of their own, with the source object's class, and its mask cut to their box.
    """
    flat, ids = [], []
    for position, points in enumerate(source.keypoints):
        for k in range(0, len(points), 3):
            flat.append((points[k], points[k + 1]))
            ids.append((position, k // 3))
    out = augmenter.labelled(
        source.image, seed, bboxes=np.array(source.boxes, dtype=np.float64).reshape(-1, 4),
        object_index=list(range(len(source.boxes))), masks=source.masks,
        keypoints=np.array(flat, dtype=np.float64).reshape(-1, 2), keypoint_id=list(range(len(flat))),
    )  # fmt: skip
    survivors = [int(i) for i in out["object_index"]]
    boxes = [tuple(float(v) for v in box) for box in out["bboxes"]]
    height, width = out["image"].shape[:2]
    masks = list(out["masks"])
    if source.mask_per_object:  # each survivor's own mask, cut to its box
        masks = [
            _within(masks[i], box, augmenter.box_format, width, height) for i, box in zip(survivors, boxes, strict=True)
        ]
    moved_points = _moved_keypoints(source, out["keypoints"], out["keypoint_id"], ids, survivors)
    return Labelled(
        out["image"], boxes, [source.kept[i] for i in survivors], masks, moved_points, source.mask_per_object
    )


def _moved_keypoints(source: Labelled, points, point_ids, ids, survivors: list[int]) -> list[list[float]]:
    """Per surviving object, its keypoints where they moved. A point that left the image becomes (0, 0, 0), as
    COCO marks an unlabelled point; a point that was not labelled stays so. Mirrored objects get none."""
    moved: dict[int, tuple[float, float]] = {}
    for point_id, (x, y) in zip(point_ids, points, strict=True):
        moved.setdefault(int(point_id), (float(x), float(y)))  # the first is the point itself, not a mirror
    per_object = [[0.0, 0.0, 0] * (len(p) // 3) for p in source.keypoints]
    for point_id, (position, k) in enumerate(ids):
        visibility = source.keypoints[position][3 * k + 2]
        if point_id in moved and visibility > 0:
            per_object[position][3 * k : 3 * k + 3] = [*moved[point_id], visibility]
    result, seen = [], set()
    for i in survivors:
        result.append(per_object[i] if i not in seen else [0.0, 0.0, 0] * (len(per_object[i]) // 3))
        seen.add(i)
    return result


def _within(mask: np.ndarray, box: tuple[float, ...], box_format: str, width: int, height: int) -> np.ndarray:
    """A mask cut to a box (so a mirrored object's mask is its own part of the object's moved mask)."""
    x0, y0, x1, y1 = corners(box, box_format, width, height)
    cut = np.zeros_like(mask)
    xa, ya = int(np.floor(x0)), int(np.floor(y0))
    xb, yb = int(np.ceil(x1)), int(np.ceil(y1))
    cut[ya:yb, xa:xb] = mask[ya:yb, xa:xb]
    return cut


def corners(box: tuple[float, ...], box_format: str, width: int, height: int) -> tuple[float, float, float, float]:
    """A box in any of the three layouts as pixel corners (x0, y0, x1, y1)."""
    if box_format == "yolo":
        cx, cy, w, h = box
        return ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
    if box_format == "coco":
        x, y, w, h = box
        return (x, y, x + w, y + h)
    x0, y0, x1, y1 = box
    return (x0, y0, x1, y1)


def _keypoints(objects: Objects, index: int) -> list[float]:
    extra = objects.extra[index] if objects.extra else None
    points = extra.get("keypoints") if isinstance(extra, dict) else None
    return [float(v) for v in points] if isinstance(points, list) and len(points) % 3 == 0 else []


def _clip(box: tuple[float, ...], box_format: str, width: int, height: int):
    from expander.labels.files import clip_corners

    if box_format == "yolo":
        cx, cy, w, h = box
        corners = clip_corners(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, 1.0, 1.0)
        return None if corners is None else ((corners[0] + corners[2]) / 2, (corners[1] + corners[3]) / 2,
                                             corners[2] - corners[0], corners[3] - corners[1])  # fmt: skip
    if box_format == "coco":
        x, y, w, h = box
        corners = clip_corners(x, y, x + w, y + h, width, height)
        return None if corners is None else (corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1])
    x0, y0, x1, y1 = box
    return clip_corners(x0, y0, x1, y1, width, height)


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """The pixel corners (x0, y0, x1, y1) of a mask's nonzero pixels; None for an empty mask."""
    points = cv2.findNonZero((mask != 0).astype(np.uint8))
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return (float(x), float(y), float(x + w), float(y + h))
