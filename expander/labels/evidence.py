"""What a file that no reader took is, judged by its content: the annotation formats people publish, named.

A dataset whose labels no format reads must not be expanded as class folders with its labels dropped. So
every file that is neither an image a reader used nor a label file it used is looked at here: the root element
of an XML, the keys near the start of a JSON, the columns of a text label's lines, the header of a CSV, the keys
of a YAML. A file that matches an annotation format's signature is ``Evidence`` (its kind, and the ``--labels``
name that reads it, if one does); prose, READMEs and unknown files are not. Only the first ``HEAD_BYTES`` of a
file are read, so a 500 MB COCO JSON costs what a small one does.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from expander.dataset import RUN_RECORDS, is_image_name
from expander.textfiles import KB

if TYPE_CHECKING:
    from expander.labels.tree import Tree

HEAD_BYTES = 64 * KB
OBB_KIND = "YOLO oriented boxes (class x1 y1 ... x4 y4)"
KERAS_LINES = ("keras-yolo3 annotation lines (image x_min,y_min,x_max,y_max,class ...)", None)
SUFFIXES = (
    ".xml",
    ".json",
    ".txt",
    ".csv",
    ".tsv",
    ".yaml",
    ".yml",
    ".names",
    ".data",
    ".jsonl",
    ".pbtxt",
    ".tfrecord",
    ".record",
)


@dataclass(frozen=True)
class Evidence:
    """A file that holds labels: what kind, and which ``--labels`` reads it (None: no format here does yet)."""

    path: str
    kind: str
    reads_as: str | None = None


def examine(tree: Tree, path: str) -> Evidence | None:
    """The annotation kind ``path`` holds, or None when it is not an annotation file (prose, an unknown file,
    one that cannot be read: a reader that wanted it would have said so). Each file is read once per tree,
    however many formats and the inventory ask."""
    found = tree.cache.setdefault("evidence", {})
    if path not in found:
        found[path] = _examine(tree, path)
    return found[path]


def _examine(tree: Tree, path: str) -> Evidence | None:
    name = posixpath.basename(path)
    if path in RUN_RECORDS or is_image_name(name) or not name.lower().endswith(SUFFIXES):
        return None
    try:
        head = tree.store.head(path, HEAD_BYTES)
    except OSError:
        return None
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    suffix = posixpath.splitext(name)[1].lower()
    kind = _KINDS.get(suffix, _text)(name, text)
    return Evidence(path, *kind) if kind else None


Kind = tuple[str, str | None] | None


def _xml(name: str, text: str) -> Kind:
    root = re.search(r"<\s*([A-Za-z_][\w.:-]*)", re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", "", text, flags=re.S))
    tag = root[1] if root else ""
    if tag == "annotation":
        if "<bndbox" in text:
            return "Pascal VOC XML", "voc"
        if "<polygon" in text:
            return "LabelMe XML (polygons)", None
        return "Pascal VOC XML (no objects)", "voc"
    if tag == "annotations" and "<version>" in text:
        return "CVAT for images XML", "cvat"
    if re.search(r"<\s*(object|bndbox|box|polygon|points|bbox)\b", text):
        return f"XML annotations (root <{tag}>)", None
    return None


def _json(name: str, text: str) -> Kind:
    keys = set(re.findall(r'"([A-Za-z_][\w]*)"\s*:', text))
    listed = text.lstrip().startswith("[")
    if {"images", "annotations"} <= keys or {"images", "categories"} <= keys:
        return "COCO JSON", "coco"
    if "shapes" in keys and (keys & {"imagePath", "shape_type", "line_color"} or {"label", "points"} <= keys):
        return "LabelMe JSON", "labelme"
    if listed and ("data" in keys or "result" in keys) and keys & {"annotations", "predictions"}:
        return "Label Studio JSON", "labelstudio"
    if listed and "image" in keys and "annotations" in keys:
        return "CreateML JSON", "createml"
    if "regions" in keys and keys & {"shape_attributes", "region_attributes", "filename"}:
        return "VGG Image Annotator (VIA) JSON", None
    if keys & {"bbox", "bboxes", "boxes", "objects", "polygon", "segmentation", "keypoints"}:
        return "JSON annotations", None
    return None


def _jsonl(name: str, text: str) -> Kind:
    if re.search(r'"objects"\s*:\s*\{', text) and '"bbox"' in text:
        return "Hugging Face imagefolder objects (metadata.jsonl)", "hf-metadata"
    if name == "metadata.jsonl" or re.search(r'"(file_name|objects|bbox)"\s*:', text):
        return "Hugging Face imagefolder metadata (metadata.jsonl)", None
    return None


def _csv(name: str, text: str) -> Kind:
    header = [c.strip().strip('"').lower() for c in re.split(r"[,\t;]", text.split("\n", 1)[0])]
    rows = [[c.strip() for c in line.split(",")] for line in text.splitlines()[1:50] if line.strip()]
    if (
        header[:1] == ["filename"]
        and len(header) > 1
        and rows
        and all(len(r) == len(header) and set(r[1:]) <= {"0", "1"} for r in rows)
    ):
        return "Roboflow multi-label classes (filename and a 0/1 column per class)", None
    files = {"filename", "file_name", "file", "image", "image_id", "image_name", "path", "img", "imagepath"}
    labels = {"class", "label", "labels", "xmin", "x_min", "x1", "bbox", "category", "class_name", "objects"}
    if set(header) & files and set(header) & labels:
        named = set(header)
        boxes = (
            {"xmin", "ymin", "xmax", "ymax"} <= named
            and bool(named & {"filename", "image"})
            and bool(named & {"class", "label"})
        )
        return f"CSV labels ({','.join(header[:8])})", "csv" if boxes else None
    return None


def _yaml(name: str, text: str) -> Kind:
    keys = set(re.findall(r"^([A-Za-z_]\w*)\s*:", text, flags=re.M))
    if "names" in keys and keys & {"train", "val", "nc", "path", "test"}:
        return "YOLO dataset YAML (class names and splits)", "yolo"
    return None


def _darknet(name: str, text: str) -> Kind:
    if name.endswith(".data") and re.search(r"^\s*(classes|names|train)\s*=", text, flags=re.M):
        return "Darknet/CVAT YOLO 1.1 obj.data", "darknet"
    if name.endswith(".names") and text.strip():
        return "Darknet class names (obj.names)", "darknet"
    return None


def _text(name: str, text: str) -> Kind:
    """Label lines by their columns: every non-empty line (of the first ones) of one shape."""
    if text.startswith("# Compatible with PASCAL Annotation Version 1.00"):
        return "PASCAL 1.0 text annotations", None  # Penn-Fudan's and the PASCAL 2005 challenge's
    lines = [line.split() for line in text.splitlines()[:200] if line.strip()]
    if len(text) >= HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line read may be cut short
    if not lines:
        return None
    shapes = {_shape(fields) for fields in lines}
    if len(shapes) == 1:
        return next(iter(shapes))
    if shapes <= {("YOLO boxes (class cx cy w h)", "yolo"), ("YOLO polygons (class x1 y1 x2 y2 ...)", "yolo-segment"),
                  (OBB_KIND, "yolo-obb")}:  # fmt: skip
        return "YOLO polygons (class x1 y1 x2 y2 ...)", "yolo-segment"
    if shapes == {KERAS_LINES, ("an image list file", None)}:  # an image without boxes is its path alone
        return KERAS_LINES
    return None


def _shape(fields: list[str]) -> Kind:
    numbers = [_is_number(f) for f in fields]
    n = len(fields)
    if all(numbers) and fields[0].isdigit():
        if n == 5:
            return "YOLO boxes (class cx cy w h)", "yolo"
        if n == 9:
            return OBB_KIND, "yolo-obb"
        if n > 6 and n % 2 == 1:
            return "YOLO polygons (class x1 y1 x2 y2 ...)", "yolo-segment"
        return None
    if not numbers[0] and n in (15, 16) and all(numbers[1:]):
        return "KITTI labels (type truncated occluded alpha box ...)", "kitti"
    if n in (9, 10) and all(numbers[:8]) and not numbers[8]:
        return "DOTA oriented boxes (x1 y1 ... x4 y4 class difficult)", None
    if not numbers[0] and (n == 5 or (n == 6 and fields[5] == "difficult")) and all(numbers[1:5]):
        return "text boxes (class left top right bottom, as mAP's ground truth)", None
    if not numbers[0] and n == 6 and all(numbers[1:]):
        return "text detections (class confidence left top right bottom)", None
    if n >= 2 and is_image_name(fields[0]) and all(_BOX_COLUMNS.fullmatch(f) for f in fields[1:]):
        return KERAS_LINES
    if n == 1 and is_image_name(fields[0]):
        return "an image list file", None
    return None


_BOX_COLUMNS = re.compile(r"-?[\d.]+(,-?[\d.]+){4}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tfrecord(name: str, text: str) -> Kind:
    return "TFRecord (images inside records are not read)", None


def _pbtxt(name: str, text: str) -> Kind:
    if re.search(r"\bitem\s*\{", text) and re.search(r"\bname\s*:", text):
        return "TF Object Detection label map (label_map.pbtxt)", None
    return None


_KINDS = {".xml": _xml, ".json": _json, ".jsonl": _jsonl, ".csv": _csv, ".tsv": _csv, ".yaml": _yaml,
          ".yml": _yaml, ".names": _darknet, ".data": _darknet, ".pbtxt": _pbtxt, ".tfrecord": _tfrecord,
          ".record": _tfrecord}  # fmt: skip
