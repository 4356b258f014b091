"""Labelled datasets laid out exactly as their publishing tools write them, with drawn objects whose pixels can be
measured (bright rectangles on a dark background, tests/labelled_data.py). Each builder names the source whose
structure, file names and keys it copies:

* Ultralytics (``ultralytics/cfg/datasets/coco.yaml``, ``coco8.yaml``, ``coco8-seg.yaml``, ``coco8-pose.yaml``,
  ultralytics 8.3): ``images/<split>`` + ``labels/<split>``, a dataset YAML with ``path``, ``train``, ``val``,
  ``names`` as ``{id: name}``; COCO's as list files (``train2017.txt`` of ``./images/train2017/...`` lines),
  beside ``annotations/instances_val2017.json`` as the coco2017labels zip ships it.
* Roboflow exports (YOLOv8, COCO JSON, Pascal VOC; 2021-2024): ``train/``, ``valid/``, ``test/``; ``data.yaml``
  with ``../train/images`` paths and a ``roboflow:`` block; ``_annotations.coco.json`` with ids from 0, a first
  category that is the project's unused "supercategory" and ``"segmentation": []``; VOC XMLs beside their
  images, tab-indented, ``xmin, xmax, ymin, ymax`` in that order, ``<path>`` the file name.
* COCO 2017 as cocodataset.org ships it: ``annotations/instances_train2017.json`` beside ``train2017/``.
* The Pascal VOC 2012 devkit: ``VOCdevkit/VOC2012/{Annotations,JPEGImages,ImageSets/Main,ImageSets/Segmentation,
  SegmentationClass,SegmentationObject}``, per-class lists as ``%s %2d`` lines, palette PNGs with 255 borders.
* Mask folders: ``<split>/images`` + ``<split>/masks`` and ``images/<split>`` + ``masks/<split>``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from labelled_data import BACKGROUND, COLOURS, draw

NAMES = ("cat", "dog", "fox")
# name -> (width, height, [(class, x0, y0, x1, y1)]): pixel corners, x1/y1 exclusive; two per split at least
TRAIN = {
    "000000000009": (97, 73, [(0, 36, 26, 62, 48)]),
    "000000000025": (80, 100, [(1, 30, 38, 52, 64), (2, 6, 6, 26, 30)]),
    "000000000030": (120, 90, [(2, 45, 33, 77, 59)]),
}
VAL = {"000000000139": (90, 90, [(0, 35, 35, 56, 58)]), "000000000285": (64, 80, [(1, 20, 20, 44, 50)])}
TEST = {"000000000632": (70, 60, [(2, 10, 10, 40, 40)])}
BACKGROUND_IMAGE = ("000000000724", (64, 64, []))  # an image without objects: a background image


def save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98])


def _yolo_box(c: int, x0: int, y0: int, x1: int, y1: int, w: int, h: int) -> str:
    return f"{c} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"


def _names_yaml(names=NAMES) -> str:
    return "names:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(names))


# --- Ultralytics ---------------------------------------------------------------------------------------------


def ultralytics_coco(root: Path) -> Path:
    """COCO as Ultralytics' coco.yaml and coco2017labels lay it out: list files, split folders named by year."""
    for split, scenes in (("train2017", {**TRAIN, BACKGROUND_IMAGE[0]: BACKGROUND_IMAGE[1]}), ("val2017", VAL)):
        lines = []
        for name, (w, h, objects) in scenes.items():
            save(root / "images" / split / f"{name}.jpg", draw(w, h, objects))
            label = root / "labels" / split / f"{name}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{_yolo_box(*o, w, h)}\n" for o in objects))
            lines.append(f"./images/{split}/{name}.jpg\n")
        (root / f"{split}.txt").write_text("".join(lines))
    (root / "coco.yaml").write_text(
        "# Ultralytics 🚀 AGPL-3.0 License - https://ultralytics.com/license\n\n"
        "# Train/val/test sets as 1) dir: path/to/imgs, 2) file: path/to/imgs.txt, or 3) list: [path/to/imgs1, ..]\n"
        "path: coco # dataset root dir\ntrain: train2017.txt # train images (relative to 'path') 118287 images\n"
        "val: val2017.txt # val images (relative to 'path') 5000 images\n\n# Classes\n" + _names_yaml()
    )
    _coco_json(root / "annotations" / "instances_val2017.json", VAL, "", start=1)  # shipped beside the labels
    return root


def ultralytics_coco8(root: Path) -> Path:
    """coco8.yaml's layout: images/train, images/val, a path that is not the dataset's folder."""
    for split, scenes in (("train", TRAIN), ("val", VAL)):
        for name, (w, h, objects) in scenes.items():
            save(root / "images" / split / f"{name}.jpg", draw(w, h, objects))
            label = root / "labels" / split / f"{name}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{_yolo_box(*o, w, h)}\n" for o in objects))
    (root / "coco8.yaml").write_text(
        "path: ../datasets/coco8 # dataset root dir\ntrain: images/train # train images (relative to 'path') 4 images\n"
        "val: images/val # val images (relative to 'path') 4 images\ntest: # test images (optional)\n\n# Classes\n"
        + _names_yaml()
    )
    return root


def polygon(x0: int, y0: int, x1: int, y1: int) -> list[tuple[float, float]]:
    """A rectangle's outline as a polygon along its pixel edges, with its edges' midpoints: a traced outline has
    more than 4 points (coco8-seg's have dozens), and a label of only 4-point polygons reads as oriented boxes."""
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return [(x0, y0), (xm, y0), (x1, y0), (x1, ym), (x1, y1), (xm, y1), (x0, y1), (x0, ym)]


def ultralytics_segment(root: Path) -> Path:
    """coco8-seg.yaml's layout: one normalised polygon per line."""
    for split, scenes in (("train", TRAIN), ("val", VAL)):
        for name, (w, h, objects) in scenes.items():
            save(root / "images" / split / f"{name}.jpg", draw(w, h, objects))
            lines = [f"{c} " + " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in polygon(x0, y0, x1, y1))
                     for c, x0, y0, x1, y1 in objects]  # fmt: skip
            label = root / "labels" / split / f"{name}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{line}\n" for line in lines))
    (root / "coco8-seg.yaml").write_text(
        "path: ../datasets/coco8-seg # dataset root dir\ntrain: images/train\nval: images/val\ntest:\n\n"
        + _names_yaml()
    )
    return root


# Pose: three keypoints per object, a left one, a right one and a middle one, each a small blob of its own
# colour drawn on the object, so where it moved can be measured from the pixels.
KEYPOINT_COLOURS = ((255, 255, 0), (0, 255, 255), (255, 0, 255))  # left, right, middle


def keypoints_of(x0: int, y0: int, x1: int, y1: int) -> list[tuple[float, float]]:
    return [(x0 + 4.5, y0 + 4.5), (x1 - 3.5, y0 + 4.5), ((x0 + x1) / 2, y1 - 4.5)]


def draw_pose(w: int, h: int, objects) -> np.ndarray:
    image = draw(w, h, objects)
    for _c, x0, y0, x1, y1 in objects:
        for (x, y), colour in zip(keypoints_of(x0, y0, x1, y1), KEYPOINT_COLOURS, strict=True):
            cv2.circle(image, (round(x), round(y)), 2, colour, -1)
    return image


def ultralytics_pose(root: Path) -> Path:
    """coco8-pose.yaml's layout: kpt_shape [3, 3] (x, y, visible), flip_idx swapping left and right."""
    for split, scenes in (("train", TRAIN), ("val", VAL)):
        for name, (w, h, objects) in scenes.items():
            save(root / "images" / split / f"{name}.png", draw_pose(w, h, objects))
            lines = []
            for _c, x0, y0, x1, y1 in objects:
                points = " ".join(f"{x / w:.6f} {y / h:.6f} 2" for x, y in keypoints_of(x0, y0, x1, y1))
                lines.append(f"{_yolo_box(0, x0, y0, x1, y1, w, h)} {points}")
            label = root / "labels" / split / f"{name}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{line}\n" for line in lines))
    (root / "coco8-pose.yaml").write_text(
        "path: ../datasets/coco8-pose\ntrain: images/train\nval: images/val\ntest:\n\n# Keypoints\n"
        "kpt_shape: [3, 3] # number of keypoints, number of dims (2 for x,y or 3 for x,y,visible)\n"
        "flip_idx: [1, 0, 2]\n\n# Classes\nnames:\n  0: person\n"
    )
    return root


# --- Roboflow ------------------------------------------------------------------------------------------------


def roboflow_yolo(root: Path) -> Path:
    for split, scenes in (("train", TRAIN), ("valid", VAL), ("test", TEST)):
        for name, (w, h, objects) in scenes.items():
            stem = f"{name}_jpg.rf.{name[-6:]}0a1b2c3d"
            save(root / split / "images" / f"{stem}.jpg", draw(w, h, objects))
            label = root / split / "labels" / f"{stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{_yolo_box(*o, w, h)}\n" for o in objects))
    (root / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 3\n"
        f"names: {list(NAMES)}\n\nroboflow:\n  workspace: test\n  project: animals\n  version: 2\n"
        "  license: CC BY 4.0\n  url: https://universe.roboflow.com/test/animals/dataset/2\n"
    )
    return root


def _coco_json(path: Path, scenes: dict, folder: str, start: int = 0, supercategory: bool = False,
               segmentation: bool = False) -> None:  # fmt: skip
    categories = [{"id": 0, "name": "animals", "supercategory": "none"}] if supercategory else []
    offset = 1 if supercategory or start else 0
    categories += [{"id": i + offset, "name": n, "supercategory": "animals" if supercategory else "animal"}
                   for i, n in enumerate(NAMES)]  # fmt: skip
    images, annotations = [], []
    for number, (name, (w, h, objects)) in enumerate(scenes.items(), start):
        file_name = f"{name}.jpg" if not folder else f"{folder}/{name}.jpg"
        images.append({"id": number, "license": 1, "file_name": file_name, "height": h, "width": w,
                       "date_captured": "2021-02-23T17:28:48+00:00"})  # fmt: skip
        for c, x0, y0, x1, y1 in objects:
            seg = [[float(v) for p in polygon(x0, y0, x1, y1) for v in p]] if segmentation else []
            annotations.append({"id": len(annotations) + start, "image_id": number, "category_id": c + offset,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                                "segmentation": seg, "iscrowd": 0})  # fmt: skip
    data = {
        "info": {"year": "2021", "version": "1", "description": "Exported from roboflow.ai", "contributor": "Roboflow",
                 "url": "https://public.roboflow.ai/object-detection/animals", "date_created": "2021-02-23T17:28:48"},
        "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}],
        "categories": categories, "images": images, "annotations": annotations,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4))


def roboflow_coco(root: Path) -> Path:
    for split, scenes in (("train", TRAIN), ("valid", VAL), ("test", TEST)):
        for name, (w, h, objects) in scenes.items():
            save(root / split / f"{name}.jpg", draw(w, h, objects))
        _coco_json(root / split / "_annotations.coco.json", scenes, "", supercategory=True)
    return root


def coco_original(root: Path) -> Path:
    """COCO 2017's own layout, with polygon segmentations as cocodataset.org ships them."""
    for split, scenes in (("train2017", TRAIN), ("val2017", VAL)):
        for name, (w, h, objects) in scenes.items():
            save(root / split / f"{name}.jpg", draw(w, h, objects))
        _coco_json(root / "annotations" / f"instances_{split}.json", scenes, "", start=1, segmentation=True)
    return root


def _voc_xml(name: str, file_name: str, w: int, h: int, objects, roboflow: bool) -> str:
    """One annotation as the VOC devkit (space-free, tab-indented) or Roboflow's export writes it."""
    t = "\t"
    parts = [
        f"<annotation>\n{t}<folder>{'' if roboflow else 'VOC2012'}</folder>\n{t}<filename>{file_name}</filename>\n"
    ]
    if roboflow:
        parts.append(
            f"{t}<path>{file_name}</path>\n{t}<source>\n{t}{t}<database>roboflow.ai</database>\n{t}</source>\n"
        )
    else:
        parts.append(f"{t}<source>\n{t}{t}<database>The VOC2007 Database</database>\n{t}{t}<annotation>PASCAL VOC2007"
                     f"</annotation>\n{t}{t}<image>flickr</image>\n{t}</source>\n")  # fmt: skip
    parts.append(f"{t}<size>\n{t}{t}<width>{w}</width>\n{t}{t}<height>{h}</height>\n{t}{t}<depth>3</depth>\n"
                 f"{t}</size>\n{t}<segmented>{0 if roboflow else 1}</segmented>\n")  # fmt: skip
    for c, x0, y0, x1, y1 in objects:  # VOC's 1-based, last pixel inclusive
        corners = {"xmin": x0 + 1, "ymin": y0 + 1, "xmax": x1, "ymax": y1}
        order = ("xmin", "xmax", "ymin", "ymax") if roboflow else ("xmin", "ymin", "xmax", "ymax")
        box = "".join(f"{t}{t}{t}<{k}>{corners[k]}</{k}>\n" for k in order)
        extra = f"{t}{t}<occluded>0</occluded>\n" if roboflow else ""
        parts.append(f"{t}<object>\n{t}{t}<name>{NAMES[c]}</name>\n{t}{t}<pose>Unspecified</pose>\n{t}{t}<truncated>0"
                     f"</truncated>\n{t}{t}<difficult>0</difficult>\n{extra}{t}{t}<bndbox>\n{box}{t}{t}</bndbox>\n"
                     f"{t}</object>\n")  # fmt: skip
    parts.append("</annotation>\n")
    return "".join(parts)


def roboflow_voc(root: Path) -> Path:
    for split, scenes in (("train", TRAIN), ("valid", VAL), ("test", TEST)):
        for name, (w, h, objects) in scenes.items():
            file_name = f"{name}_jpg.rf.{name[-6:]}0a1b2c3d.jpg"
            save(root / split / file_name, draw(w, h, objects))
            (root / split / file_name.replace(".jpg", ".xml")).write_text(
                _voc_xml(name, file_name, w, h, objects, True)
            )
    return root


# --- the VOC devkit ------------------------------------------------------------------------------------------


def voc_palette() -> list[int]:
    """The VOC colour map (devkit's labelcolormap.m): 256 RGB triplets."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def _palette_png(path: Path, values: np.ndarray) -> None:
    from PIL import Image

    image = Image.fromarray(values.astype(np.uint8))
    image.putpalette(voc_palette())
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def voc_devkit(root: Path, segmentation: tuple[str, ...] = ("000000000025", "000000000139")) -> Path:
    """VOCdevkit/VOC2012 with Main and Segmentation lists, per-class lists, and segmentation PNGs for some."""
    voc = root / "VOCdevkit" / "VOC2012"
    splits = {"train": TRAIN, "val": VAL}
    extra = {"000000000999": (60, 50, [(1, 5, 5, 30, 30)])}  # annotated, in no Main list (an Action/Layout image)
    for name, (w, h, objects) in {**TRAIN, **VAL, **extra}.items():
        save(voc / "JPEGImages" / f"{name}.jpg", draw(w, h, objects))
        (voc / "Annotations").mkdir(parents=True, exist_ok=True)
        (voc / "Annotations" / f"{name}.xml").write_text(_voc_xml(name, f"{name}.jpg", w, h, objects, False))
        if name in segmentation:
            classes, instances = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
            for k, (c, x0, y0, x1, y1) in enumerate(objects, 1):
                classes[y0:y1, x0:x1], instances[y0:y1, x0:x1] = c + 1, k  # VOC classes count from 1
                for values in (classes, instances):  # the void border VOC draws round every object
                    cv2.rectangle(values, (x0 - 1, y0 - 1), (x1, y1), 255, 1)
            _palette_png(voc / "SegmentationClass" / f"{name}.png", classes)
            _palette_png(voc / "SegmentationObject" / f"{name}.png", instances)
    main, seg = voc / "ImageSets" / "Main", voc / "ImageSets" / "Segmentation"
    main.mkdir(parents=True)
    seg.mkdir(parents=True)
    for split, scenes in splits.items():
        (main / f"{split}.txt").write_text("".join(f"{n}\n" for n in scenes))
        (seg / f"{split}.txt").write_text("".join(f"{n}\n" for n in scenes if n in segmentation))
        for c, cls in enumerate(NAMES):
            lines = [f"{n} {1 if any(o[0] == c for o in objs) else -1:2d}\n" for n, (_w, _h, objs) in scenes.items()]
            (main / f"{cls}_{split}.txt").write_text("".join(lines))
    (main / "trainval.txt").write_text("".join(f"{n}\n" for s in splits.values() for n in s))
    (seg / "trainval.txt").write_text("".join(f"{n}\n" for s in splits.values() for n in s if n in segmentation))
    return root


# --- mask folders --------------------------------------------------------------------------------------------


def masks(root: Path, layout: str) -> Path:
    """Instance masks, one id per object, in ``split_images`` (train/images + train/masks) or ``images_split``
    (images/train + masks/train). The last training image has no mask: a background image."""
    scenes = {"train": {**TRAIN, "000000000724": (64, 64, [(0, 5, 5, 20, 20)])}, "val": VAL}
    for split, found in scenes.items():
        for name, (w, h, objects) in found.items():
            images, masks_folder = (
                (root / split / "images", root / split / "masks")
                if layout == "split_images"
                else (root / "images" / split, root / "masks" / split)
            )
            save(images / f"{name}.png", draw(w, h, objects))
            if name == "000000000724":
                continue  # no mask
            mask = np.zeros((h, w), np.uint8)
            for k, (_c, x0, y0, x1, y1) in enumerate(objects, 1):
                mask[y0:y1, x0:x1] = k
            masks_folder.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(masks_folder / f"{name}.png"), mask)
    return root


__all__ = ["BACKGROUND", "COLOURS", "NAMES", "TEST", "TRAIN", "VAL"]
