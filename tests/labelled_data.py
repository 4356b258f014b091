"""Labelled datasets whose objects are known exactly: bright rectangles on a dark plain background,
written as YOLO, COCO, Pascal VOC and instance masks. Used by tests/test_labels*.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

BACKGROUND = (30, 30, 30)
COLOURS = ((235, 70, 70), (70, 235, 70), (70, 70, 235))
NAMES = ("cat", "dog", "fox")

# name -> (width, height, [(class, x0, y0, x1, y1), ...]); pixel corners, x1/y1 exclusive
SCENES = {
    "a": (97, 73, [(0, 36, 26, 62, 48)]),
    "b": (80, 100, [(1, 30, 38, 52, 64)]),
    "c": (120, 90, [(2, 45, 33, 77, 59)]),
    "d": (90, 90, [(0, 35, 35, 56, 58)]),
}
MULTI = {  # several objects per image, for quotas (never measured from pixels)
    "m1": (64, 64, [(0, 4, 4, 20, 20), (0, 30, 4, 46, 20), (1, 4, 30, 20, 46)]),
    "m2": (64, 64, [(0, 4, 4, 20, 20), (2, 30, 30, 50, 50)]),
    "m3": (64, 64, [(0, 10, 10, 30, 30)]),
    "m4": (64, 64, []),  # a background image
}


def draw(width: int, height: int, objects) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    for c, x0, y0, x1, y1 in objects:
        image[round(y0) : round(y1), round(x0) : round(x1)] = COLOURS[c]
    return image


def _save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_yolo(root: Path, scenes=SCENES, split: str = "train", ext: str = ".png") -> Path:
    for name, (w, h, objects) in scenes.items():
        _save(root / split / "images" / f"{name}{ext}", draw(w, h, objects))
        lines = [f"{c} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}\n"
                 for c, x0, y0, x1, y1 in objects]  # fmt: skip
        (root / split / "labels").mkdir(parents=True, exist_ok=True)
        (root / split / "labels" / f"{name}.txt").write_text("".join(lines))
    (root / "data.yaml").write_text(f"train: ../{split}/images\nval: ../valid/images\nnc: 3\nnames: {list(NAMES)}\n")
    return root


def write_coco(root: Path, scenes=SCENES, split: str = "train", rle: tuple[str, ...] = ("b",)) -> Path:
    from pycocotools import mask as coco_mask

    images, annotations = [], []
    for image_id, (name, (w, h, objects)) in enumerate(scenes.items(), 1):
        _save(root / split / f"{name}.png", draw(w, h, objects))
        images.append({"id": image_id, "file_name": f"{name}.png", "width": w, "height": h})
        for c, x0, y0, x1, y1 in objects:
            if name in rle:
                m = np.zeros((h, w), np.uint8)
                m[y0:y1, x0:x1] = 1
                encoded = coco_mask.encode(np.asfortranarray(m))
                segmentation = {"size": [h, w], "counts": encoded["counts"].decode()}
            else:
                segmentation = [[x0, y0, x1, y0, x1, y1, x0, y1]]
            keypoints = [(x0 + x1) / 2, (y0 + y1) / 2, 2, x0 + 1, y0 + 1, 2]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": c + 1,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
                                "segmentation": segmentation, "keypoints": keypoints, "num_keypoints": 2})  # fmt: skip
    categories = [{"id": i + 1, "name": n, "supercategory": "animal"} for i, n in enumerate(NAMES)]
    data = {"info": {"description": "test"}, "images": images, "annotations": annotations, "categories": categories}
    (root / split / "_annotations.coco.json").write_text(json.dumps(data))
    return root


def write_voc(root: Path, scenes=SCENES, split: str = "train") -> Path:
    """VOC as the devkit writes it: 1-based pixel indices, xmax/ymax the last pixel inside the box."""
    for name, (w, h, objects) in scenes.items():
        _save(root / "JPEGImages" / f"{name}.png", draw(w, h, objects))
        body = "".join(
            f"  <object>\n    <name>{NAMES[c]}</name>\n    <difficult>0</difficult>\n    <bndbox><xmin>{x0 + 1}</xmin>"
            f"<ymin>{y0 + 1}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>\n  </object>\n"
            for c, x0, y0, x1, y1 in objects
        )
        size = f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
        head = f"<folder>JPEGImages</folder>\n  <filename>{name}.png</filename>\n  {size}"
        xml = f"<annotation>\n  {head}\n{body}</annotation>\n"
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{name}.xml").write_text(xml)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{n}\n" for n in scenes))
    return root


def write_masks(root: Path, scenes=SCENES) -> Path:
    for name, (w, h, objects) in scenes.items():
        _save(root / "images" / f"{name}.png", draw(w, h, objects))
        mask = np.zeros((h, w), np.uint8)
        for instance, (_c, x0, y0, x1, y1) in enumerate(objects, 1):
            mask[y0:y1, x0:x1] = instance
        (root / "masks").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / "masks" / f"{name}_mask.png"), mask)
    return root


def measured_box(image_bgr: np.ndarray) -> tuple[int, int, int, int] | None:
    """Pixel corners (x0, y0, x1, y1) of the bright object: the largest region of pixels far from the image's
    most common colour, opened to drop noise (a mirror image that a reflecting border brings in is smaller,
    unless the object itself mostly left); None when no object can be told from the background (Solarize)."""
    pixels = image_bgr.reshape(-1, image_bgr.shape[-1]).astype(np.int32)
    values, counts = np.unique(pixels, axis=0, return_counts=True)
    background = values[counts.argmax()]
    distance = np.abs(image_bgr.astype(np.int32) - background).max(axis=-1)
    spread = int(distance.max())
    if spread < 40:
        return None
    region = (distance > spread // 2).astype(np.uint8)
    region = cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(region)
    if count < 2:
        return None
    x, y, w, h, _ = stats[1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())]
    return int(x), int(y), int(x + w), int(y + h)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def output_boxes(out: Path, fmt: str, image_rel: str, shape: tuple[int, int]) -> list[tuple[float, ...]]:
    """Pixel corners of every object the output's label says ``image_rel`` holds, read as its format's user would."""
    height, width = shape
    stem = Path(image_rel).stem
    if fmt == "yolo":
        label = out / image_rel.replace("/images/", "/labels/").rsplit(".", 1)[0]
        boxes = []
        for line in Path(f"{label}.txt").read_text().splitlines():
            _, cx, cy, w, h = (float(v) for v in line.split())
            boxes.append(((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height))
        return boxes
    if fmt == "coco":
        from pycocotools.coco import COCO

        coco = COCO(str(out / Path(image_rel).parent / "_annotations.coco.json"))
        image = next(i for i in coco.dataset["images"] if i["file_name"] == Path(image_rel).name)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        return [(a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]) for a in anns]
    if fmt == "voc":
        import xml.etree.ElementTree as ET

        root = ET.parse(out / "Annotations" / f"{stem}.xml").getroot()
        boxes = []
        for o in root.iter("object"):  # 1-based, last pixel inclusive: pixel corners are one less at the start
            xmin, ymin, xmax, ymax = (float(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes.append((xmin - 1, ymin - 1, xmax, ymax))
        return boxes
    mask = cv2.imread(str(out / "masks" / f"{stem}_mask.png"), cv2.IMREAD_UNCHANGED)
    boxes = []
    for value in sorted(set(np.unique(mask).tolist()) - {0}):
        x, y, w, h = cv2.boundingRect(cv2.findNonZero((mask == value).astype(np.uint8)))
        boxes.append((x, y, x + w, y + h))
    return boxes


def pipeline_file(path: Path, transform: dict) -> Path:
    """A pipeline file of one transform that always fires (known geometry for the label tests)."""
    path.write_text(json.dumps({"transform": {"__class_fullname__": "Compose", "transforms": [transform]}}))
    return path
