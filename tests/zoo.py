"""Published datasets, rebuilt in the layouts their authors published (issue 41): folder and file names, XML
elements, JSON keys, CSV headers and label columns as the repository recorded in ``ZOO`` ships them (read at
that commit), with values and pixels of our own at the published image sizes. No file of theirs is copied.

Each entry says what expander must make of it: read as a format, with images per split and objects per class,
or refused with the kinds of label files seen. ``tests/test_zoo.py`` checks both, and that every file under
the dataset is accounted for; ``docs/hooks.py`` prints the table in docs/labels.md from ``ZOO``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Published:
    """One dataset as published, and what expander must make of it."""

    name: str
    repository: str  # owner/name
    commit: str  # the commit whose layout the builder follows
    licence: str
    layout: str  # in words, for the docs
    build: Callable[[Path], Path]
    detected: str | None  # the --labels format it is read as; None: refused
    images: dict[str, int] = field(default_factory=dict)  # per split ("" for none)
    objects: dict[str, int] = field(default_factory=dict)  # per class, every split
    refused: tuple[str, ...] = ()  # the kinds named in the refusal, one line per folder and kind


def _image(path: Path, width: int, height: int, grey: bool = False, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width) if grey else (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --- datitran/raccoon_dataset: labelImg's Pascal VOC XML in annotations/, the images in images/ ------------------

_RACCOONS = {"raccoon-1": (650, 417, (81, 88, 522, 408)), "raccoon-2": (800, 573, (60, 51, 462, 499)),
             "raccoon-3": (720, 480, (1, 1, 720, 476))}  # fmt: skip


def _labelimg_xml(name: str, width: int, height: int, box: tuple[int, int, int, int]) -> str:
    """labelImg's XML as the raccoon set has it: tab-indented, ``verified``, an absolute ``path``."""
    xmin, ymin, xmax, ymax = box
    return (
        f'<annotation verified="yes">\n\t<folder>images</folder>\n\t<filename>{name}.jpg</filename>\n'
        f"\t<path>/Users/someone/Desktop/raccoon/images/{name}.jpg</path>\n\t<source>\n\t\t<database>Unknown"
        f"</database>\n\t</source>\n\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
        "\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n\t<object>\n\t\t<name>raccoon</name>\n"
        "\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n"
        f"\t\t<bndbox>\n\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymin>{ymin}</ymin>\n\t\t\t<xmax>{xmax}</xmax>\n"
        f"\t\t\t<ymax>{ymax}</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>"
    )


def raccoon(root: Path) -> Path:
    header = "filename,width,height,class,xmin,ymin,xmax,ymax\n"
    rows = [f"{n}.jpg,{w},{h},raccoon,{','.join(map(str, box))}\n" for n, (w, h, box) in _RACCOONS.items()]
    for n, (name, (w, h, box)) in enumerate(_RACCOONS.items()):
        _image(root / "images" / f"{name}.jpg", w, h, seed=n)
        _text(root / "annotations" / f"{name}.xml", _labelimg_xml(name, w, h, box))
    _text(root / "data" / "raccoon_labels.csv", header + "".join(rows))
    _text(root / "data" / "train_labels.csv", header + "".join(rows[:2]))
    _text(root / "data" / "test_labels.csv", header + rows[2])
    _text(root / "README.md", "# Raccoon Detector Dataset\n")
    return root


def raccoon_csv(root: Path) -> Path:
    """The raccoon set as the TF Object Detection API tutorial uses it: ``images/`` and ``data/train_labels.csv``
    + ``data/test_labels.csv`` (``xml_to_csv.py``'s output), without the XML."""
    raccoon(root)
    for name in _RACCOONS:
        (root / "annotations" / f"{name}.xml").unlink()
    (root / "annotations").rmdir()
    (root / "data" / "raccoon_labels.csv").unlink()
    return root


# --- HumanSignal/label-studio-converter: Label Studio's JSON export (tests/data/test_export_yolo) -----------------


def _ls_result(kind: str, value: dict, width: int, height: int, result_id: str) -> dict:
    return {"original_width": width, "original_height": height, "image_rotation": 0, "value": value,
            "id": result_id, "from_name": "label", "to_name": "image", "type": kind, "origin": "manual"}  # fmt: skip


def _ls_annotation(annotation_id: int, by: int, results: list, created: str) -> dict:
    return {"id": annotation_id, "completed_by": by, "result": results, "was_cancelled": False,
            "ground_truth": False, "created_at": created, "updated_at": created, "lead_time": 12.5,
            "prediction": {}, "result_count": 0, "task": 1, "project": 1, "parent_prediction": None,
            "parent_annotation": None}  # fmt: skip


def label_studio(root: Path) -> Path:
    """Label Studio's JSON export (``project-1-at-<time>-<hash>.json``) beside the uploaded images (named
    ``<8 hex>-<name>``): task 1 annotated twice (two annotators), task 2 a polygon, task 3 not annotated."""
    tasks = []
    for n, (width, height) in enumerate(((80, 60), (64, 64), (50, 40)), 1):
        _image(root / "upload" / "1" / f"5d3f1a2{n}-image{n}.jpg", width, height, seed=n)
        box = {"x": 37.16, "y": 20.67, "width": 14.19, "height": 24.74, "rotation": 0, "rectanglelabels": ["parasites"]}
        polygon = {"points": [[60.0, 19.56], [61.1, 45.15], [83.3, 44.88], [84.4, 18.46]], "closed": True,
                   "polygonlabels": ["white"]}  # fmt: skip
        annotations = []
        if n == 1:
            annotations = [_ls_annotation(1, 2, [_ls_result("rectanglelabels", box, width, height, "C7oHaRDVVC")],
                                          "2022-12-27T13:36:25.747398Z"),
                           _ls_annotation(2, 1, [_ls_result("rectanglelabels", {**box, "x": 38.0}, width, height,
                                                            "9GLz8g9skg")], "2022-12-27T21:04:40.495704Z")]  # fmt: skip
        elif n == 2:
            annotations = [_ls_annotation(3, 1, [_ls_result("polygonlabels", polygon, width, height, "djbpw94CXj")],
                                          "2022-12-28T10:00:00.000000Z")]  # fmt: skip
        tasks.append({"id": n, "annotations": annotations, "drafts": [], "predictions": [],
                      "data": {"image": f"/data/upload/1/5d3f1a2{n}-image{n}.jpg"}, "meta": {},
                      "created_at": "2022-12-27T12:06:58.502299Z", "updated_at": "2022-12-27T21:05:03.168883Z",
                      "inner_id": n, "total_annotations": len(annotations), "cancelled_annotations": 0,
                      "total_predictions": 0, "comment_count": 0, "unresolved_comment_count": 0,
                      "last_comment_updated_at": None, "project": 1, "updated_by": 1,
                      "comment_authors": []})  # fmt: skip
    _text(root / "project-1-at-2022-12-28-10-31-8f1c2a3b.json", json.dumps(tasks, indent=4))
    return root


# --- zhixuhao/unet: data/membrane, train/image + train/label (0/255 PNG masks), test/ without masks -------------


def unet_membrane(root: Path) -> Path:
    for n in range(3):
        _image(root / "train" / "image" / f"{n}.png", 64, 64, grey=True, seed=n)
        mask = np.zeros((64, 64), np.uint8)
        mask[8 + n : 40, 10:50] = 255
        (root / "train" / "label").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / "train" / "label" / f"{n}.png"), mask)
        _image(root / "test" / f"{n}.png", 64, 64, grey=True, seed=10 + n)
        _image(root / "test" / f"{n}_predict.png", 64, 64, grey=True, seed=20 + n)
    return root


# --- openvinotoolkit/datumaro's test assets: layouts as CVAT, KITTI, Roboflow and DOTA export them ------------------


def _cvat_image(image_id: int, name: str, size: int, subset: str | None, attributes: bool) -> str:
    """An ``<image>`` of datumaro's CVAT asset: img0 a box and a polyline, img1 a polygon and points."""
    where = f'id="{image_id}" name="{name}"' + (f' subset="{subset}" task_id="39"' if subset else "")
    head = f'  <image height="{size}" {where} width="{size}">\n'
    if name == "img0.jpg":
        values = ((1, "true"), (2, "v3"), (3, "0003"), (4, "2.4")) if attributes else ()
        inner = "".join(f'      <attribute name="a{n}">{v}</attribute>\n' for n, v in values)
        body = ('    <box label="label1" occluded="1" xbr="4" xtl="0" ybr="4" ytl="2" z_order="1">\n'
                f"{inner}    </box>\n"
                + ('    <polyline label="label2" points="1.0,2;3,4;5,6;7,8"/>\n' if subset else ""))  # fmt: skip
    else:
        body = '    <polygon label="label1" points="1,2;3,4;6,5" z_order="1"/>\n' + (
            '    <points label="label2" points="1,2;3,4;5,6" z_order="2"/>\n' if subset else ""
        )
    return head + body + "  </image>\n"


_CVAT_META = ("<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n      <z_order>True</z_order>\n"
              "      <mode>annotation</mode>\n      <labels>\n        <label>\n          <name>label1</name>\n"
              "        </label>\n      </labels>\n    </task>\n  </meta>\n")  # fmt: skip


def cvat_images(root: Path) -> Path:
    """CVAT for images 1.1, a task export: ``images/`` and one XML with ``<annotations><version>1.1``."""
    for name, size in (("img0", 8), ("img1", 10)):
        _image(root / "images" / f"{name}.jpg", size, size)
    images = "".join(_cvat_image(n, f"img{n}.jpg", 8 + 2 * n, None, False) for n in range(2))
    _text(root / "train.xml", _CVAT_META + images + "</annotations>\n")
    return root


def cvat_project(root: Path) -> Path:
    """CVAT for images 1.1, a project export: ``annotations.xml`` (an XML declaration, ``<project>`` meta with
    its tasks and subsets) and ``images/<subset>/``; each ``<image>`` says its ``subset``; boxes with
    ``<attribute>`` children, polygons, polylines and points."""
    images = ""
    for subset in ("Test", "Train", "Validation"):
        for n in range(2):
            _image(root / "images" / subset / f"img{n}.jpg", 8 + 2 * n, 8 + 2 * n)
            images += _cvat_image(n, f"img{n}.jpg", 8 + 2 * n, subset, True)
    meta = ("  <meta>\n    <project>\n      <id>3</id>\n      <subsets>Train\nTest\nValidation</subsets>\n"
            "      <labels>\n        <label>\n          <name>label1</name>\n        </label>\n"
            "        <label>\n          <name>label2</name>\n        </label>\n      </labels>\n    </project>\n"
            "    <dumped>2023-01-17 01:38:22.055780+00:00</dumped>\n  </meta>\n")  # fmt: skip
    _text(root / "annotations.xml", '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
          + meta + images + "</annotations>\n")  # fmt: skip
    return root


def kitti_detection(root: Path) -> Path:
    """KITTI object detection: ``training/image_2`` PNGs and ``training/label_2`` with 15 columns a line;
    ``testing/image_2`` without labels."""
    lines = {
        "000030_10": "Truck 1.0 0 -1 0 1 2 3 -1 -1 -1 -1 -1 -1 -1\n",
        "000030_11": "Van 0.0 1 -1 4 4 6 6 -1 -1 -1 -1 -1 -1 -1\nVan 0.0 0 -1 6 6 7 9 -1 -1 -1 -1 -1 -1 -1\n",
    }
    for name, text in lines.items():
        _image(root / "training" / "image_2" / f"{name}.png", 10, 10)
        _text(root / "training" / "label_2" / f"{name}.txt", text)
    _image(root / "testing" / "image_2" / "000001_10.png", 10, 10)  # the test split has no labels
    return root


def roboflow_createml(root: Path) -> Path:
    """Roboflow's CreateML export: ``<split>/_annotations.createml.json``, a list of images with ``coordinates``."""
    for split, names in (("train", ("train_001", "train_002")), ("val", ("val_001",))):
        entries = []
        for name in names:
            _image(root / split / f"{name}.jpg", 10, 5)
            box = {"x": 2.0, "y": 1.0, "width": 3.0, "height": 1.0}
            entries.append({"image": f"{name}.jpg", "annotations": [{"label": "label_0", "coordinates": box}]})
        _text(root / split / "_annotations.createml.json", json.dumps(entries, indent=2))
    return root


def cvat_yolo(root: Path) -> Path:
    """CVAT's "YOLO 1.1" export (darknet's layout): ``obj.data``, ``obj.names``, ``train.txt`` naming
    ``data/obj_train_data/<image>``, and each label file beside its image."""
    _text(root / "obj.data", "classes = 3\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n")
    _text(root / "obj.names", "label_0\nlabel_1\nlabel_2\n")
    _text(root / "train.txt", "data/obj_train_data/1.jpg\n")
    _image(root / "obj_train_data" / "1.jpg", 15, 10)
    _text(
        root / "obj_train_data" / "1.txt", "2 0.133333 0.300000 0.266667 0.200000\n1 0.266667 0.450000 0.133333 0.3\n"
    )
    return root


def dota(root: Path) -> Path:
    """DOTA (and Roboflow's DOTA-style OBB export): ``<split>/images`` + ``<split>/labelTxt``, each line
    ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult``."""
    for split, lines in (("train", ("0 0 0 2 2 2 2 0 label_0 0",)), ("val", ("1 2 1 5 10 5 10 2 label_1 0",))):
        _image(root / split / "images" / f"{split}_001.jpg", 10, 5)
        _text(root / split / "labelTxt" / f"{split}_001.txt", "\n".join(lines) + "\n")
    return root


# --- ultralytics/ultralytics: DOTA8, oriented boxes as class + 4 corners, normalised ------------------------------


def ultralytics_dota8(root: Path) -> Path:
    """``dota8.yaml`` (``path``, ``train: images/train``, ``val: images/val``, ``names`` as ``{id: name}``) and
    ``labels/<split>/*.txt`` lines ``class x1 y1 x2 y2 x3 y3 x4 y4``."""
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(("plane", "ship", "storage tank")))
    _text(
        root / "dota8.yaml",
        f"path: dota8 # dataset root dir\ntrain: images/train\nval: images/val\n\nnames:\n{names}\n",
    )
    for split, name in (("train", "P1053__1024__0___90"), ("val", "P0861__1024__0___1648")):
        _image(root / "images" / split / f"{name}.jpg", 64, 64)
        _text(root / "labels" / split / f"{name}.txt",
              "0 0.781 0.569 0.855 0.631 0.766 0.736 0.692 0.674\n1 0.2 0.2 0.4 0.25 0.35 0.45 0.15 0.4\n")  # fmt: skip
    return root


# --- wkentaro/labelme: a JSON beside each image -------------------------------------------------------------------


def labelme_3(root: Path) -> Path:
    """LabelMe 3, as the repository's ``examples/instance_segmentation``: ``data_annotated/<id>.jpg`` + ``.json``
    (``imageData`` first and null, shapes without ``shape_type`` with ``line_color``/``fill_color``, labels
    ``bus-1``), and ``labels.txt`` (``__ignore__``, ``_background_``, the classes) beside the folder."""
    _text(root / "labels.txt", "__ignore__\n_background_\nbus\ncar\n")
    for n, name in enumerate(("2011_000003", "2011_000025")):
        _image(root / "data_annotated" / f"{name}.jpg", 120, 90, seed=n)
        shapes = [{"fill_color": None, "line_color": None, "label": label, "points": points} for label, points in (
            ("bus-1", [[20.9, 10.5], [60.9, 12.5], [70.9, 50.5], [25.9, 60.5]]),
            ("car", [[80.9, 40.5], [110.9, 40.5], [110.9, 70.5], [85.9, 72.5], [80.9, 60.5]]),
        )]  # fmt: skip
        document = {"imageData": None, "shapes": shapes, "fillColor": [255, 0, 0, 128],
                    "lineColor": [0, 255, 0, 128], "imagePath": f"{name}.jpg"}  # fmt: skip
        _text(root / "data_annotated" / f"{name}.json", json.dumps(document, indent=2))
    return root


def labelme_5(root: Path) -> Path:
    """LabelMe 5's ``LabelFile.save``: ``version``, ``flags``, ``shapes`` (``label``, ``points``, ``group_id``,
    ``description``, ``shape_type``, ``flags``, ``mask``), ``imagePath``, ``imageData``, ``imageHeight``,
    ``imageWidth``; a rectangle, a polygon, a point, a circle and a linestrip, and an image without a JSON."""
    shapes = (("dog", "rectangle", [[10.0, 12.0], [40.0, 30.0]]),
              ("cat", "polygon", [[50.0, 10.0], [70.0, 14.0], [66.0, 40.0], [52.0, 36.0]]),
              ("nose", "point", [[20.0, 50.0]]), ("ball", "circle", [[80.0, 60.0], [86.0, 60.0]]),
              ("lead", "linestrip", [[30.0, 60.0], [40.0, 66.0], [52.0, 62.0]]))  # fmt: skip
    for name in ("shot_001", "shot_002"):
        _image(root / "train" / f"{name}.png", 100, 80)
        document = {"version": "5.5.0", "flags": {}, "shapes": [
            {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind, "flags": {},
             "mask": None} for label, kind, points in shapes], "imagePath": f"{name}.png", "imageData": None,
            "imageHeight": 80, "imageWidth": 100}  # fmt: skip
        _text(root / "train" / f"{name}.json", json.dumps(document, indent=2, ensure_ascii=False))
    _image(root / "train" / "shot_003.png", 100, 80)  # not labelled yet: a background image
    return root


def roboflow_yolo(root: Path) -> Path:
    """Roboflow's YOLO export as datumaro keeps it: ``data.yaml`` naming ``../valid/images`` for a ``val/``
    folder, ``names`` as a flow list, label files without a final newline."""
    _text(root / "data.yaml", "train: ../train/images\nval: ../valid/images\n\nnc: 2\nnames: ['label_0', 'label_1']\n")
    for split, name, line in (("train", "train_001", "0 0.35 0.3 0.3 0.2"), ("train", "train_002", "1 0.5 0.5 0.2 0.4"),
                              ("val", "val_001", "0 0.5 0.5 0.4 0.4")):  # fmt: skip
        _image(root / split / "images" / f"{name}.jpg", 10, 5)
        _text(root / split / "labels" / f"{name}.txt", line)
    return root


def roboflow_voc(root: Path) -> Path:
    """Roboflow's VOC export: ``<split>/<name>.xml`` beside the image, ``xmax`` written before ``ymin``."""
    for split, name, (cls, x0, y0, x1, y1) in (("train", "train_001", ("label_0", 2, 1, 5, 2)),
                                               ("train", "train_002", ("label_1", 1, 1, 4, 4)),
                                               ("val", "val_001", ("label_0", 1, 2, 6, 4))):  # fmt: skip
        _image(root / split / f"{name}.jpg", 10, 5)
        _text(root / split / f"{name}.xml", (
            f"<annotation>\n  <folder></folder>\n  <filename>{name}.jpg</filename>\n  <path>{name}.jpg</path>\n"
            "  <source>\n    <database>roboflow.ai</database>\n  </source>\n  <size>\n    <width>10</width>\n"
            "    <height>5</height>\n    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n  <object>\n"
            f"    <name>{cls}</name>\n    <bndbox>\n      <xmin>{x0}</xmin>\n      <xmax>{x1}</xmax>\n"
            f"      <ymin>{y0}</ymin>\n      <ymax>{y1}</ymax>\n    </bndbox>\n  </object>\n</annotation>\n"
        ))  # fmt: skip
    return root


def yolo_loose(root: Path) -> Path:
    """A YOLO set without a YAML: ``images/<split>`` + ``labels/<split>``, class names in darknet's
    ``obj.names``, and a README beside them (datumaro's "yolo loose" asset)."""
    _text(root / "obj.names", "".join(f"label_{i}\n" for i in range(10)))
    _text(root / "README.txt", "This file is not part of the dataset.\n")
    for split in ("train", "val"):
        _image(root / "images" / split / "1.jpg", 15, 10)
        _text(
            root / "labels" / split / "1.txt", "2 0.133333 0.300000 0.266667 0.200000\n4 0.266667 0.45 0.133333 0.3\n"
        )
    return root


def kaggle_masks(root: Path, labelmap: bool = False) -> Path:
    """Kaggle's image + mask layout: ``images/<n>.png`` and ``masks/<n>.png`` (16-bit, 5x1 px: an image one pixel
    tall), optionally ``labelmap.csv`` (``name,r,g,b``, a row per class index)."""
    if labelmap:
        _text(root / "labelmap.csv", "name,r,g,b\nbackground,0,0,0\ncat,255,0,0\ndog,0,255,0\n")
    for n, values in enumerate(([0, 1, 1, 2, 0], [2, 2, 0, 0, 1]), 1):
        _image(root / "images" / f"{n:03d}.png", 5, 1, seed=n)
        (root / "masks").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / "masks" / f"{n:03d}.png"), np.array([values], np.uint16))
    return root


DATUMARO = ("openvinotoolkit/datumaro", "3d533b9cf", "MIT")
ZOO = (
    Published(
        "raccoon",
        "datitran/raccoon_dataset",
        "9393884",
        "MIT",
        "images/ + annotations/ (labelImg VOC XML), data/*.csv box lists",
        raccoon,
        "voc",
        {"": 3},
        {"raccoon": 3},
    ),
    Published(
        "raccoon-csv",
        "datitran/raccoon_dataset",
        "9393884",
        "MIT",
        "images/ + data/train_labels.csv, data/test_labels.csv (TF Object Detection API CSV)",
        raccoon_csv,
        "csv",
        {"train": 2, "test": 1},
        {"raccoon": 3},
    ),
    Published(
        "label-studio",
        "HumanSignal/label-studio-converter",
        "2ef5400",
        "Apache-2.0",
        "project-1-at-<time>.json (Label Studio JSON export) + upload/1/<hex>-<name>.jpg",
        label_studio,
        "labelstudio",
        {"": 3},
        {"parasites": 1, "white": 1},
    ),
    Published(
        "membrane",
        "zhixuhao/unet",
        "b45af4d",
        "MIT",
        "train/image + train/label (0/255 masks), test/ without masks",
        unet_membrane,
        "masks",
        {"train": 3, "test": 6},
        {"object": 3},
    ),
    Published(
        "labelme-3",
        "wkentaro/labelme",
        "28de423",
        "GPL-3.0 (layout only)",
        "data_annotated/<id>.jpg + <id>.json (LabelMe 3: no shape_type), labels.txt",
        labelme_3,
        "labelme",
        {"": 2},
        {"bus-1": 2, "car": 2},
    ),
    Published(
        "labelme-5",
        "wkentaro/labelme",
        "28de423",
        "GPL-3.0 (layout only)",
        "<name>.png + <name>.json (LabelMe 5: rectangle, polygon, point, circle, linestrip)",
        labelme_5,
        "labelme",
        {"train": 3},
        {"ball": 2, "cat": 2, "dog": 2, "lead": 2, "nose": 2},
    ),
    Published(
        "roboflow-yolo",
        *DATUMARO,
        "data.yaml (../valid/images for val/), <split>/images + <split>/labels",
        roboflow_yolo,
        "yolo",
        {"train": 2, "val": 1},
        {"label_0": 2, "label_1": 1},
    ),
    Published(
        "roboflow-voc",
        *DATUMARO,
        "<split>/<name>.xml beside <split>/<name>.jpg (xmax before ymin)",
        roboflow_voc,
        "voc",
        {"train": 2, "val": 1},
        {"label_0": 2, "label_1": 1},
    ),
    Published(
        "yolo-loose",
        *DATUMARO,
        "images/<split> + labels/<split>, names in obj.names, no YAML",
        yolo_loose,
        "yolo",
        {"train": 1, "val": 1},
        {"label_2": 2, "label_4": 2},
    ),
    Published(
        "kaggle-masks",
        *DATUMARO,
        "images/ + masks/ (16-bit masks of images 1 px tall)",
        kaggle_masks,
        "masks",
        {"": 2},
        {"object": 4},
    ),
    Published(
        "kaggle-masks-labelmap",
        *DATUMARO,
        "images/ + masks/ + labelmap.csv (name,r,g,b)",
        lambda root: kaggle_masks(root, labelmap=True),
        "masks",
        {"": 2},
        {"cat": 2, "dog": 2},
    ),
    Published(
        "cvat-images",
        *DATUMARO,
        "images/ + train.xml (CVAT for images 1.1)",
        cvat_images,
        "cvat",
        {"train": 2},
        {"label1": 2},
    ),
    Published(
        "cvat-project",
        *DATUMARO,
        "annotations.xml (CVAT for images 1.1, a project) + images/<subset>/",
        cvat_project,
        "cvat",
        {"test": 2, "train": 2, "validation": 2},
        {"label1": 6, "label2": 6},
    ),
    Published(
        "kitti-detection",
        *DATUMARO,
        "training/image_2 + training/label_2",
        kitti_detection,
        "kitti",
        {"train": 2, "test": 1},
        {"Truck": 1, "Van": 2},
    ),
    Published(
        "roboflow-createml",
        *DATUMARO,
        "<split>/_annotations.createml.json beside the images",
        roboflow_createml,
        "createml",
        {"train": 2, "val": 1},
        {"label_0": 3},
    ),
    Published(
        "cvat-yolo",
        *DATUMARO,
        "obj.data, obj.names, train.txt, obj_train_data/ (CVAT YOLO 1.1)",
        cvat_yolo,
        "darknet",
        {"train": 1},
        {"label_1": 1, "label_2": 1},
    ),
    Published(
        "dota8",
        "ultralytics/ultralytics",
        "62210a6",
        "AGPL-3.0 (layout only)",
        "dota8.yaml, images/<split> + labels/<split> (YOLO OBB lines)",
        ultralytics_dota8,
        "yolo-obb",
        {"train": 1, "val": 1},
        {"plane": 2, "ship": 2},
    ),
    Published(
        "dota",
        *DATUMARO,
        "<split>/images + <split>/labelTxt (oriented boxes)",
        dota,
        None,
        refused=("DOTA oriented boxes (x1 y1 ... x4 y4 class difficult)",) * 2,
    ),
)
