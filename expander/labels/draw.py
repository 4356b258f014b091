"""Boxes, class names, mask outlines and keypoints drawn on an image, for ``expander preview``: from
``Instances``, so every format draws the same way."""

from __future__ import annotations

import cv2
import numpy as np

from expander.images import to_8bit
from expander.labels.instances import Instances

_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]  # fmt: skip


def annotate(image: np.ndarray, instances: Instances, names: tuple[str, ...]) -> np.ndarray:
    """An RGB copy of the image with each instance's box, class name, mask outline and keypoints drawn on it."""
    canvas = np.ascontiguousarray(to_8bit(image, channels=3))
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(height, width) / 300))
    for label_image in instances.label_images:
        for value in sorted(set(np.unique(label_image).tolist()) - {0, 255}):
            _outline(canvas, label_image == value, _PALETTE[int(value) % len(_PALETTE)], thickness)
    for position, (class_id, box) in enumerate(zip(instances.classes, instances.boxes, strict=True)):
        colour = _PALETTE[class_id % len(_PALETTE)]
        if instances.masks:
            _outline(canvas, instances.masks[position] != 0, colour, thickness)
        x0, y0, x1, y1 = (round(v) for v in box)
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
        if instances.keypoints:
            points = instances.keypoints[position]
            for k in range(0, len(points), 3):
                if points[k + 2] > 0:
                    cv2.circle(canvas, (round(points[k]), round(points[k + 1])), thickness + 1, colour, -1)
        name = names[class_id] if class_id < len(names) else str(class_id)
        scale = max(0.4, thickness * 0.4)
        origin = (x0 + 2, max(12, y0 - 3))
        cv2.putText(canvas, name, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(canvas, name, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return canvas


def _outline(canvas: np.ndarray, region: np.ndarray, colour, thickness: int) -> None:
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(canvas, contours, -1, colour, thickness)
