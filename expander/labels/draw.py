"""Boxes, class names and mask outlines drawn on an image, for ``expander preview``."""

from __future__ import annotations

import cv2
import numpy as np

from expander.labels.moving import Labelled, corners
from expander.labels.objects import Objects

_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]  # fmt: skip


def annotate(labelled: Labelled, objects: Objects, names: tuple[str, ...], box_format: str) -> np.ndarray:
    """An RGB copy of the image with each object's box and class name, and mask outlines, drawn on it."""
    from expander.images import to_8bit

    image = np.ascontiguousarray(to_8bit(labelled.image, channels=3))
    height, width = image.shape[:2]
    thickness = max(1, round(max(height, width) / 300))
    for mask in labelled.masks:
        for value in sorted(set(np.unique(mask).tolist()) - {0}):
            contours, _ = cv2.findContours((mask == value).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(image, contours, -1, _PALETTE[int(value) % len(_PALETTE)], thickness)
    for box, index in zip(labelled.boxes, labelled.kept, strict=True):
        class_id = objects.classes[index]
        colour = _PALETTE[class_id % len(_PALETTE)]
        x0, y0, x1, y1 = (round(v) for v in corners(box, box_format, width, height))
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
        name = names[class_id] if class_id < len(names) else str(class_id)
        scale = max(0.4, thickness * 0.4)
        cv2.putText(image, name, (x0 + 2, max(12, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2,
                    cv2.LINE_AA)  # fmt: skip
        cv2.putText(
            image, name, (x0 + 2, max(12, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA
        )
    return image
