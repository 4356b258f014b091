"""Labels that move with the pixels: one source's ``Instances``, through ``--size`` and the pipeline.

Pure functions of (pixels, instances, seed) with one exception, the albumentations Compose, which
``Augmenter`` owns and reseeds per output exactly as for class folders (a labelled copy gets the same pixels
an unlabelled run would). Boxes go through albumentations' box processing as pixel corners (clipped to the
image, dropped below ``min_visibility``); masks and label images as masks (nearest-neighbour, so ids
survive); keypoints as keypoints. Three probe points beside the centre tell whether the copy is mirrored,
which formats with left/right keypoints need (a flipped left eye is the right eye).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from expander.images import resize
from expander.labels.instances import Box, Instances, clip_corners

CENTRE = 0.5  # a pixel's centre, from its corner


def start(instances: Instances, height: int, width: int) -> Instances:
    """A source's instances with their boxes clipped to its real size (a label may say otherwise); an instance
    with nothing left inside is left out."""
    keep, boxes = [], []
    for position, box in enumerate(instances.boxes):
        clipped = clip_corners(*box, width, height)
        if clipped is not None:
            keep.append(position)
            boxes.append(clipped)
    kept = instances.select(keep)
    kept.boxes = boxes
    return kept


def resized(image: np.ndarray, instances: Instances, size: tuple[int, int]) -> tuple[np.ndarray, Instances]:
    """The source at ``size`` (width, height): the image by ``images.resize``, masks nearest-neighbour."""
    height, width = image.shape[:2]
    sx, sy = size[0] / width, size[1] / height
    boxes: list[Box] = [(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in instances.boxes]
    nearest = [
        cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in (*instances.masks, *instances.label_images)
    ]
    keypoints = [
        [v * (sx if k % 3 == 0 else sy if k % 3 == 1 else 1) for k, v in enumerate(p)] for p in instances.keypoints
    ]
    moved = dataclasses.replace(instances, boxes=boxes, masks=nearest[: len(instances.masks)],
                                label_images=nearest[len(instances.masks) :], keypoints=keypoints)  # fmt: skip
    return resize(image, size), moved


def move(augmenter, image: np.ndarray, source: Instances, seed: int) -> tuple[np.ndarray, Instances]:
    """One augmented copy. Instances whose box left the image or fell below min_visibility are not kept.

    With a reflecting border (REFLECT_101), albumentations also returns the mirror images of objects that the
    reflection brings into view: they are objects in the copy's pixels, so they are kept as instances of their
    own, with their source object's class and index, and its mask cut to their box.
    """
    height, width = image.shape[:2]
    flat, ids = [], []
    for position, points in enumerate(source.keypoints):
        for k in range(0, len(points), 3):
            flat.append(_to_centre(points[k], points[k + 1], width, height))
            ids.append((position, k // 3))
    probes = _probes(width, height)
    out = augmenter.labelled(
        image, seed, bboxes=np.array(source.boxes, dtype=np.float64).reshape(-1, 4),
        object_index=list(range(len(source))), masks=[*source.masks, *source.label_images],
        keypoints=np.array([*flat, *probes], dtype=np.float64).reshape(-1, 2),
        keypoint_id=list(range(len(flat) + len(probes))),
    )  # fmt: skip
    survivors = [int(i) for i in out["object_index"]]
    boxes: list[Box] = [tuple(float(v) for v in box) for box in out["bboxes"]]  # type: ignore[misc]
    new_height, new_width = out["image"].shape[:2]
    masks = list(out["masks"])
    object_masks, label_images = masks[: len(source.masks)], masks[len(source.masks) :]
    if object_masks:  # each survivor's own mask, cut to its box (a mirror image's is its own part)
        object_masks = [
            _within(object_masks[i], box, new_width, new_height) for i, box in zip(survivors, boxes, strict=True)
        ]
    found = _first_of_each(out["keypoints"], out["keypoint_id"])
    keypoints = _moved_keypoints(source, {i: (x + CENTRE, y + CENTRE) for i, (x, y) in found.items()}, ids, survivors)
    mirrored = _mirrored([found.get(len(flat) + k) for k in range(len(probes))])
    moved = Instances(
        [source.classes[i] for i in survivors], boxes, [source.index[i] for i in survivors], object_masks, keypoints,
        label_images, list(source.label_info), source.mirrored != mirrored,
    )  # fmt: skip
    return out["image"], moved


def _to_centre(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """A keypoint as albumentations moves it. Labels give continuous coordinates (pixel i spans i..i+1: COCO's,
    Ultralytics', LabelMe's), albumentations moves pixel centres (a flip takes x to width - 1 - x): in half a pixel
    down, out half a pixel up, so a flip gives width - x, as Ultralytics' own flip does. A point on the image's
    near edge stays on it."""
    return min(max(x - CENTRE, 0.0), width - CENTRE), min(max(y - CENTRE, 0.0), height - CENTRE)


def _probes(width: int, height: int) -> list[tuple[float, float]]:
    """Three points near the centre, counter-clockwise on screen: their order after the move says mirrored."""
    cx, cy, step = width / 2, height / 2, max(1.0, min(width, height) / 8)
    # Inside the image, or albumentations refuses them: an image 1 px tall has its probes on one line (its
    # mirroring then goes unseen, which only left/right keypoints would need).
    right, below = min(cx + step, width - 0.5), min(cy + step, height - 0.5)
    return [(cx, cy), (right, cy), (cx, below)]


def _mirrored(points: list[tuple[float, float] | None]) -> bool:
    """Whether three moved probes turn the other way round (a mirror); False when one left the image."""
    if any(p is None for p in points):
        return False
    (x0, y0), (x1, y1), (x2, y2) = points  # type: ignore[misc]
    return (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0) < 0


def _first_of_each(points, point_ids) -> dict[int, tuple[float, float]]:
    """Point id -> where it moved; the first of an id is the point itself, later ones are its mirror images."""
    found: dict[int, tuple[float, float]] = {}
    for point_id, (x, y) in zip(point_ids, points, strict=True):
        found.setdefault(int(point_id), (float(x), float(y)))
    return found


def _moved_keypoints(
    source: Instances, found: dict[int, tuple[float, float]], ids: list[tuple[int, int]], survivors: list[int]
) -> list[list[float]]:
    """Per surviving instance, its keypoints where they moved. A point that left the image becomes (0, 0, 0), as
    COCO and Ultralytics mark a point that is not labelled; a point that was not labelled stays so. Mirror
    images get none."""
    if not source.keypoints:
        return []
    per_object = [[0.0, 0.0, 0.0] * (len(p) // 3) for p in source.keypoints]
    for point_id, (position, k) in enumerate(ids):
        visibility = source.keypoints[position][3 * k + 2]
        if point_id in found and visibility > 0:
            per_object[position][3 * k : 3 * k + 3] = [*found[point_id], visibility]
    result, seen = [], set()
    for i in survivors:
        result.append(per_object[i] if i not in seen else [0.0, 0.0, 0.0] * (len(per_object[i]) // 3))
        seen.add(i)
    return result


def _within(mask: np.ndarray, box: Box, width: int, height: int) -> np.ndarray:
    """A mask cut to a box (so a mirrored object's mask is its own part of the object's moved mask)."""
    x0, y0, x1, y1 = box
    cut = np.zeros_like(mask)
    xa, ya = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    xb, yb = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    cut[ya:yb, xa:xb] = mask[ya:yb, xa:xb]
    return cut
