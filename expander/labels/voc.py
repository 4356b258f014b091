"""Pascal VOC: ``Annotations/<id>.xml`` + ``JPEGImages/<id>.jpg``, splits from ``ImageSets/Main/<split>.txt``.

An annotation's ``<filename>`` names its image (the xml's own stem when it does not); each
``<object>`` has a ``<name>`` and a ``<bndbox>`` of pixel corners. Class indices follow the names'
natural order. A copy's xml is its source's with the file name, size and boxes updated and objects
that left the image removed; every other element (``difficult``, ``truncated``, ``pose``, ...) is kept.
When ``ImageSets/Main`` lists exist they give the splits (``trainval`` only when no ``train``/``val``
list does) and an image in no list is left out; the output's lists name the copies too.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from pathlib import Path

from expander.dataset import SPLITS, Item, is_image_name, natural_key
from expander.labels.files import Tree, clip_corners, read_text
from expander.labels.objects import LabelSet, Objects

LISTS = "ImageSets/Main"


def _annotation_folders(tree: Tree) -> dict[str, list[str]]:
    folders: dict[str, list[str]] = {}
    for name in tree.files:
        if name.endswith(".xml") and posixpath.basename(posixpath.dirname(name)) == "Annotations":
            folders.setdefault(posixpath.dirname(posixpath.dirname(name)), []).append(name)
    return folders


def detect(tree: Tree) -> bool:
    return bool(_annotation_folders(tree))


def scan(tree: Tree) -> tuple[list[Item], LabelSet]:
    files = set(tree.files)
    images_by_stem = {}
    for image in tree.images:
        if posixpath.basename(posixpath.dirname(image)) == "JPEGImages":
            images_by_stem[(posixpath.dirname(posixpath.dirname(image)), _stem(image))] = image
    parsed: list[tuple] = []
    orphans: list[str] = []
    for root, xmls in _annotation_folders(tree).items():
        splits = _split_lists(tree.root, root, files)
        for xml_name in xmls:
            document, problems = _read(tree.root, xml_name)
            filename = document.findtext("filename") if document is not None else None
            stem = _stem(filename) if filename and is_image_name(filename) else _stem(xml_name)
            found = images_by_stem.get((root, stem))
            if found is None:
                orphans.append(xml_name)
                continue
            if splits and stem not in splits:
                continue
            parsed.append((found, splits.get(stem), xml_name, document, problems))
    names = tuple(sorted({o.findtext("name", "").strip() for _, _, _, d, _ in parsed if d is not None
                          for o in d.iter("object")} - {""}, key=natural_key))  # fmt: skip
    index = {n: i for i, n in enumerate(names)}
    items = [Item(image, split, "", _objects(xml_name, document, problems, index))
             for image, split, xml_name, document, problems in parsed]  # fmt: skip
    items.sort(key=lambda i: natural_key(i.rel_path))
    lists = tuple(sorted({f for f in files if f.startswith(LISTS) or f"/{LISTS}/" in f}))
    return items, LabelSet("voc", names, lists, tuple(orphans), {"lists": lists})


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


def _split_lists(root: Path, voc_root: str, files: set[str]) -> dict[str, str]:
    """Image id -> split, from ImageSets/Main/<split>.txt (trainval only without train and val lists)."""
    folder = posixpath.join(voc_root, LISTS) if voc_root else LISTS
    names = {s: f"{folder}/{s}.txt" for s in (*SPLITS, "trainval") if f"{folder}/{s}.txt" in files}
    if "train" in names or "val" in names:
        names.pop("trainval", None)
    split_of: dict[str, str] = {}
    for split, name in names.items():
        for line in read_text(root, name).splitlines():
            if line.split():
                split_of.setdefault(line.split()[0], "train" if split == "trainval" else split)
    return split_of


def _read(root: Path, xml_name: str) -> tuple[ET.Element | None, tuple[str, ...]]:
    try:
        return ET.fromstring(read_text(root, xml_name)), ()
    except (OSError, ValueError, ET.ParseError) as e:
        return None, (f"{xml_name}: cannot be read: {e}",)


def _objects(xml_name: str, document: ET.Element | None, problems: tuple[str, ...], index: dict[str, int]) -> Objects:
    if document is None:
        return Objects(xml_name, problems=problems)
    width = _number(document.findtext("size/width")) or 0.0
    height = _number(document.findtext("size/height")) or 0.0
    classes, boxes, extra, found = [], [], [], list(problems)
    for number, element in enumerate(document.iter("object"), 1):
        name = element.findtext("name", "").strip()
        where = f"{xml_name} object {number} ({name or 'no name'})"
        values = [_number(element.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
        corners = [v for v in values if v is not None]
        if name not in index:
            found.append(f"{where}: no <name>")
        elif len(corners) != 4:
            found.append(f"{where}: no numeric <bndbox>")
        elif corners[2] <= corners[0] or corners[3] <= corners[1]:
            found.append(f"{where}: zero-size box")
        elif width and height and clip_corners(corners[0], corners[1], corners[2], corners[3], width, height) is None:
            found.append(f"{where}: box outside the image")
        else:
            classes.append(index[name])
            boxes.append(tuple(corners))
            extra.append(ET.tostring(element, encoding="unicode"))
    for element in list(document.iter("object")):
        document.remove(element)
    return Objects(xml_name, tuple(classes), tuple(boxes), tuple(extra),  # type: ignore[arg-type]
                   ET.tostring(document, encoding="unicode"), tuple(found))  # fmt: skip


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def render(objects: Objects, moved, output: str, size: tuple[int, int]) -> bytes:
    """A copy's xml: the source's, with its file name, size and moved boxes."""
    document = ET.fromstring(objects.head)
    _set(document, "filename", posixpath.basename(output))
    for key, value in zip(("width", "height"), size, strict=True):
        _set(document, f"size/{key}", str(value))
    for position, source_index in enumerate(moved.kept):
        element = ET.fromstring(objects.extra[source_index])
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), moved.boxes[position], strict=True):
            _set(element, f"bndbox/{key}", str(round(value)))
        document.append(element)
    ET.indent(document)
    return ET.tostring(document, encoding="unicode").encode() + b"\n"


def _set(element: ET.Element, path: str, text: str) -> None:
    node = element
    for part in path.split("/"):
        child = node.find(part)
        node = child if child is not None else ET.SubElement(node, part)
    node.text = text


def dataset_files(
    labels: LabelSet, written: list[tuple[str, str | None]], splits: dict[str, str | None]
) -> dict[str, bytes]:
    """ImageSets/Main/<split>.txt for the output: every image on disk, in plan order, by its split."""
    if not labels.details.get("lists"):
        return {}
    by_list: dict[str, list[str]] = {}
    for output, _source in written:
        voc_root = posixpath.dirname(posixpath.dirname(output))
        split = splits.get(output) or "train"
        folder = posixpath.join(voc_root, LISTS) if voc_root else LISTS
        by_list.setdefault(f"{folder}/{split}.txt", []).append(_stem(output))
    return {name: "".join(f"{i}\n" for i in ids).encode() for name, ids in by_list.items()}
