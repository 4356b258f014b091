"""``Instances``: one image's objects in its pixel frame, the one carrier every label format reads into and
renders out of (Ultralytics' ``Instances``, with masks and label images), and the geometry they share.

Coordinates are pixels: a box is its corners (x0, y0, x1, y1), 0-based with x1/y1 exclusive, so a box
around pixel columns 3..7 is (3, ., 8, .). Formats convert from their own units when they read (YOLO's
normalised centres, COCO's x/y/width/height, VOC's 1-based corners) and back when they render.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field

import cv2
import numpy as np

from expander.limits import MAX_MASK_BYTES

Box = tuple[float, float, float, float]
# How far a box may overhang its image and still be valid, in pixels: exports round coordinates (Roboflow's COCO
# boxes end up to 0.5 px past the edge). Reading clips such a box; verify accepts it; inspect reports it as fine.
OVERHANG = 1.0


def box_fits(x0: float, y0: float, x1: float, y1: float, width: float, height: float) -> bool:
    """Whether a box (pixel corners) has area and lies inside its image, give or take ``OVERHANG``."""
    return (
        x1 > x0 and y1 > y0 and x0 > -OVERHANG and y0 > -OVERHANG and x1 < width + OVERHANG and y1 < height + OVERHANG
    )


@dataclass
class Instances:
    """What moves with one image's pixels.

    Per instance: its class, its box, the source object it came from (``index``: a mirror image that a
    reflecting border brings in repeats its object's), and where the format has them its own mask (0/1,
    full frame) and its keypoints (flat x, y, visibility). Per image: label images (a mask dataset's id or
    class mask, VOC's segmentation PNGs), moved whole with nearest-neighbour interpolation.
    """

    classes: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)  # one per instance, or none at all
    keypoints: list[list[float]] = field(default_factory=list)  # one per instance, or none at all
    label_images: list[np.ndarray] = field(default_factory=list)
    label_info: list[list[int] | None] = field(default_factory=list)  # per label image, its PNG palette (if any)
    mirrored: bool = False  # the pixels were mirrored (an odd number of flips): left and right points swap

    def __len__(self) -> int:
        return len(self.index)

    def select(self, keep: list[int]) -> Instances:
        """Only the instances at positions ``keep``, in that order."""
        return dataclasses.replace(
            self,
            classes=[self.classes[i] for i in keep],
            boxes=[self.boxes[i] for i in keep],
            index=[self.index[i] for i in keep],
            masks=[self.masks[i] for i in keep] if self.masks else [],
            keypoints=[self.keypoints[i] for i in keep] if self.keypoints else [],
        )


def clip_corners(x0: float, y0: float, x1: float, y1: float, width: float, height: float) -> Box | None:
    """A box's corners clipped to the image; None when nothing of it is left inside."""
    x0, x1 = max(0.0, min(x0, width)), max(0.0, min(x1, width))
    y0, y1 = max(0.0, min(y0, height)), max(0.0, min(y1, height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def mask_box(mask: np.ndarray) -> Box | None:
    """The pixel corners of a mask's nonzero pixels; None for an empty mask."""
    points = cv2.findNonZero((mask != 0).astype(np.uint8))
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return (float(x), float(y), float(x + w), float(y + h))


def polygon_box(points: np.ndarray) -> Box:
    """The box around a polygon's points ((K, 2) pixels)."""
    return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))


def trace_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """A mask's outer outlines as (K, 2) pixel polygons, largest first.

    Traced on the mask at twice its size, an outline runs along pixel edges rather than through the centres
    of the outermost pixels, so a polygon rasteriser gives the mask back (99% of pixels on random blobs;
    holes cannot be polygons) instead of losing its right and bottom rows.
    """
    doubled = cv2.resize(mask.astype(np.uint8), (mask.shape[1] * 2, mask.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(doubled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = [(c.reshape(-1, 2).astype(np.float64) + 0.5) / 2 for c in contours if len(c) >= 3]
    return sorted(found, key=lambda p: -abs(cv2.contourArea(p.astype(np.float32))))


def fill_polygons(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """A 0/1 mask of (K, 2) pixel polygons, filled as Ultralytics' polygon2mask does (cv2.fillPoly)."""
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons if len(p) >= 3], 1)
    return mask


def check_mask_memory(objects: int, height: int, width: int) -> None:
    """Refuse to rasterise one mask per object when they would take more than MAX_MASK_BYTES: a label file
    that gives one image 290,000 polygons fails that image, not the machine (ValueError, caught per image)."""
    needed = objects * height * width
    if needed > MAX_MASK_BYTES:
        raise ValueError(
            f"{objects:,} objects with masks on a {width}x{height} image need {needed / 1e9:.1f} GB to move (the "
            f"limit is {MAX_MASK_BYTES / 1e9:.1f} GB); split the image's labels or leave the image out"
        )


def read_label_image(data: bytes, name: str) -> tuple[np.ndarray, list[int] | None]:
    """A one-channel label PNG's values and, for a palette PNG (VOC's), its palette.

    Raises:
        ValueError: not a one-channel or palette image (naming ``name``).
    """
    from PIL import Image  # lazy: Pillow costs ~7 ms to import; only palette label images need it

    with Image.open(io.BytesIO(data)) as image:
        if image.mode not in ("P", "L", "I;16", "I"):
            raise ValueError(f"'{name}' is a {image.mode} image, not a one-channel or palette label PNG")
        palette = image.getpalette() if image.mode == "P" else None
        values = np.array(image)
    return (values.astype(np.uint16) if values.dtype != np.uint8 else values), palette


def write_label_image(values: np.ndarray, palette: list[int] | None) -> bytes:
    """A label image as PNG: with its palette when it had one, else 8- or 16-bit grey."""
    from PIL import Image  # lazy: Pillow costs ~7 ms to import; only palette label images need it

    image = Image.fromarray(values.astype(np.uint8) if palette is not None else values)
    if palette is not None:
        image.putpalette(palette)  # an L image with a palette becomes a P image, values unchanged
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
