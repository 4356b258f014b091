"""Does a written label file parse, and does it fit its image? For ``expander verify``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np


def label_problem(format: str, label: bytes, shape: tuple[int, int], classes: int) -> str:
    """Why ``label`` is not a valid label of an image of ``shape`` (height, width); "" when it is."""
    height, width = shape
    try:
        if format == "yolo":
            return _yolo(label.decode("utf-8"), classes)
        if format == "voc":
            root = ET.fromstring(label)
            size = (root.findtext("size/width"), root.findtext("size/height"))
            if size != (str(width), str(height)):
                return f"its size {size[0]}x{size[1]} is not its image's {width}x{height}"
            for obj in root.iter("object"):
                x0, y0, x1, y1 = (float(obj.findtext(f"bndbox/{k}") or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
                if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                    return f"box {x0:g},{y0:g},{x1:g},{y1:g} is not inside the image"
            return ""
        if format == "coco":
            fragment = json.loads(label)
            image = fragment["image"]
            if (image.get("width"), image.get("height")) != (width, height):
                return f"its size {image.get('width')}x{image.get('height')} is not its image's {width}x{height}"
            for a in fragment["annotations"]:
                x, y, w, h = a["bbox"]
                if not (x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width + 0.01 and y + h <= height + 0.01):
                    return f"box {a['bbox']} is not inside the image"
            return ""
        mask = cv2.imdecode(np.frombuffer(label, np.uint8), cv2.IMREAD_UNCHANGED)
        if mask is None or mask.shape != (height, width):
            return f"the mask is not a {width}x{height} one-channel PNG"
        return ""
    except (ValueError, KeyError, TypeError, ET.ParseError) as e:
        return f"cannot be parsed: {type(e).__name__}: {e}"


def _yolo(text: str, classes: int) -> str:
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            return f"line {number} is not 'class cx cy w h'"
        class_id, values = int(fields[0]), [float(v) for v in fields[1:]]
        if not 0 <= class_id < classes:
            return f"line {number}: class id {class_id} is outside 0-{classes - 1}"
        cx, cy, w, h = values
        if not (w > 0 and h > 0 and cx - w / 2 >= -1e-6 and cy - h / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6
                and cy + h / 2 <= 1 + 1e-6):  # fmt: skip
            return f"line {number}: the box is not inside the image"
    return ""
