"""Pascal VOC: an ``<annotation>`` XML per image, as the VOC devkit and Roboflow's VOC export publish them.

* The devkit: ``Annotations/<id>.xml`` beside ``JPEGImages/<id>.jpg``; the splits in ``ImageSets/Main/
  {train,val,trainval,test}.txt`` (``trainval`` alone counts as train); per-class lists
  (``ImageSets/Main/<class>_<split>.txt``: ``<id> 1|0|-1``), segmentation lists and the segmentation PNGs
  (``SegmentationClass/``, ``SegmentationObject/``: palette PNGs, 255 the void border) beside them. Every
  list is kept in the output, each copy listed after its source (per-class flags recomputed from the copy's
  objects); both segmentation PNGs move with the pixels as label images, keeping their palette.
* Roboflow's export (also labelImg's): ``<split>/<name>.xml`` beside ``<split>/<name>.jpg``.

Coordinates are VOC's: 1-based pixel indices, ``xmax``/``ymax`` inclusive, so a box of pixel columns 0..9
(0-based) is ``xmin 1, xmax 10``; copies are written the same way. A copy's XML is its source's with
``filename``, ``path``, ``size`` and the boxes updated, ``truncated`` set for an object the copy's border cuts,
and objects that left the image removed; every other element (``difficult``, ``pose``, parts) is kept.
An image in no ``ImageSets/Main`` list is copied but not augmented; one without an XML is a background image.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from expander.dataset import UNLISTED, Item, natural_key
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read, Written
from expander.labels.evidence import examine
from expander.labels.instances import Instances, box_fits, clip_corners, read_label_image, write_label_image
from expander.labels.tree import Tree, renamed_label, split_of, stem
from expander.limits import MAX_OBJECTS_PER_IMAGE
from expander.plan import Output
from expander.textfiles import TextFileError, decode_text, parse_xml

ANNOTATIONS, LISTS = "Annotations", "ImageSets"
SEGMENTATION = ("SegmentationClass", "SegmentationObject")
_PER_CLASS = re.compile(r"^(.+)_(train|val|trainval|test)$")


class Voc(LabelFormat):
    name = "voc"
    description = (
        "Annotations/*.xml beside JPEGImages/ (optionally ImageSets/Main/<split>.txt, SegmentationClass/, "
        "SegmentationObject/), <name>.xml beside <name>.jpg, or any folder of <annotation> XMLs beside its "
        "image folder (annotations/ + images/)"
    )

    def coverage(self, tree: Tree) -> int:
        return len(_annotations(tree))

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        xmls = _annotations(tree)
        images = {(posixpath.dirname(i), stem(i)): i for i in tree.images}
        lists = tuple(f for f in tree.files if _in_lists(f))
        splits, notes = _splits(tree, lists)
        parsed, orphans, labelled = [], [], set()
        for xml_name in xmls:
            document, error = _read(tree, xml_name)
            image = _image_of(xml_name, document, images)
            if image is None:
                orphans.append(xml_name)
                continue
            labelled.add(image)
            parsed.append((image, xml_name, document, error))
        names = tuple(sorted({o.findtext("name", "").strip() for *_, d, _ in parsed if d is not None
                              for o in d.iter("object")} - {""}, key=natural_key))  # fmt: skip
        index = {n: i for i, n in enumerate(names)}
        files = set(tree.files)
        items = [Item(image, self._split(image, splits), "", _objects(xml, document, error, index, image, files))
                 for image, xml, document, error in parsed]  # fmt: skip
        # An image without an XML in a folder whose other images have theirs is a background image; its copies'
        # XMLs go where its neighbours' are.
        xml_folders = {posixpath.dirname(image): posixpath.dirname(xml) for image, xml, *_ in parsed}
        items += [Item(i, self._split(i, splits), "", Objects(head={"xml_folder": xml_folders[posixpath.dirname(i)]}))
                  for i in tree.images if i not in labelled and posixpath.dirname(i) in xml_folders]  # fmt: skip
        unlisted = sum(1 for i in items if i.split == UNLISTED)
        if unlisted:
            notes.append(f"{unlisted} image(s) in no ImageSets/Main list: copied, not augmented")
        items.sort(key=lambda i: natural_key(i.rel_path))
        details = {"lists": {name: _list_lines(tree, name) for name in lists}}
        return items, LabelSet("voc", names, lists, tuple(orphans), tuple(notes), (), details)

    def _split(self, image: str, splits: dict[str, str] | None) -> str | None:
        if splits is None:
            return split_of(image)
        return splits.get(stem(image), UNLISTED)

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        boxes = [record["box"] for record in objects.records]
        label_images, info = [], []
        for path in objects.label_files[1:]:  # the segmentation PNGs
            values, palette = read_label_image(read(path), path)
            if values.shape != (height, width):
                raise ValueError(f"'{path}' is {values.shape[1]}x{values.shape[0]}, its image {width}x{height}")
            label_images.append(values)
            info.append(palette)
        return Instances(list(objects.classes), boxes, list(range(objects.count)), label_images=label_images,
                         label_info=info)  # fmt: skip

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        if objects is None or not objects.label_files:
            return () if output == source else (_xml_for(output, objects),)
        return tuple(renamed_label(path, source, output) for path in objects.label_files)

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        head, output = objects.head or {}, out.rel_path
        document = parse_xml(head["document"]) if head.get("document") else ET.Element("annotation")
        _set(document, "filename", posixpath.basename(output))
        if document.find("path") is not None:
            _set(document, "path", output)  # the copy's own place, relative to the output (labelImg writes one)
        for key, value in zip(("width", "height"), size, strict=True):
            _set(document, f"size/{key}", str(value))
        _set(document, "size/depth", document.findtext("size/depth") or "3")
        width, height = size
        positions: dict[int, int] = {}
        for position, (source_index, box) in enumerate(zip(moved.index, moved.boxes, strict=True)):
            record = objects.records[source_index]
            element = ET.fromstring(record["element"])
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"), voc_corners(box, width, height), strict=True):
                _set(element, f"bndbox/{key}", str(value))
            if _cut(box, width, height) and not _cut(record["box"], *record["size"]):
                _set(element, "truncated", "1")  # the copy's border cuts what the source showed whole
            document.append(element)
            positions.setdefault(source_index, position + 1)
        ET.indent(document)
        files = {paths[0]: ET.tostring(document, encoding="unicode").encode() + b"\n"}
        kinds = head.get("segmentation", ())
        for path, values, palette, kind in zip(paths[1:], moved.label_images, moved.label_info, kinds, strict=True):
            files[path] = write_label_image(
                _renumbered(values, positions) if kind == SEGMENTATION[1] else values, palette
            )
        return files, list(moved.classes)

    def roles(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        kinds = {SEGMENTATION[0]: "segclass", SEGMENTATION[1]: "segobject"}
        return tuple(kinds.get(posixpath.basename(posixpath.dirname(p)), "voc") for p in paths)

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        index = {n: i for i, n in enumerate(labels.names)}
        found: dict[int, int] = {}
        root = parse_xml(decode_text(next(iter(files.values()), b"<annotation/>")))
        for obj in root.iter("object"):
            class_id = index.get(obj.findtext("name", "").strip(), -1)
            found[class_id] = found.get(class_id, 0) + 1
        return found

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        items = iter(files.items())
        name, data = next(items, ("", b""))
        try:
            root = parse_xml(decode_text(data))
        except TextFileError as e:
            return f"{name} cannot be parsed: {e}"
        size = (root.findtext("size/width"), root.findtext("size/height"))
        if size != (str(width), str(height)):
            return f"its size {size[0]}x{size[1]} is not its image's {width}x{height}"
        for obj in root.iter("object"):
            corners = [_number(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            if any(v is None for v in corners):
                return "an object has no numeric bndbox"
            x0, y0, x1, y1 = (float(v or 0) for v in corners)
            if not (x0 <= x1 and y0 <= y1 and box_fits(x0 - 1, y0 - 1, x1, y1, width, height)):
                return f"box {x0:g},{y0:g},{x1:g},{y1:g} is not inside the image (VOC's are 1-based)"
            if obj.findtext("name", "").strip() not in labels.names:
                return f"object name {obj.findtext('name')!r} is not one of the dataset's classes"
        for name, data in items:
            try:
                label_image, _ = read_label_image(data, name)
            except (ValueError, OSError) as e:
                return str(e)
            if label_image.shape != (height, width):
                return f"{name} is {label_image.shape[1]}x{label_image.shape[0]}, not its image's {width}x{height}"
        return ""

    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        """Every ImageSets list of the source, with each written output listed where its source was."""
        by_source: dict[str, list[Written]] = {}
        for w in written:
            by_source.setdefault(stem(w.source), []).append(w)
        names = set(labels.names)
        files: Files = {}
        for name, source_lines in labels.details["lists"].items():
            per_class = _PER_CLASS.match(stem(name))
            cls = per_class[1] if per_class and per_class[1] in names else None
            lines = []
            for image_id, rest in source_lines:
                for w in by_source.get(image_id, []):
                    copy = output_id(w.output) != image_id
                    lines.append(f"{output_id(w.output)}{_flag(read, w, cls) if cls and copy else rest}")
            files[name] = "".join(f"{line}\n" for line in lines).encode()
        return files

    def check_dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> list[str]:
        problems = []
        for name, expected in self.dataset_files(labels, written, read).items():
            try:
                found = read(name)
            except OSError:
                problems.append(f"{name}: missing")
                continue
            if found != expected:
                have, want = found.decode("utf-8", "replace").splitlines(), expected.decode().splitlines()
                gone = sorted(set(want) - set(have))[:3]
                detail = f"lists {len(have)} lines where the images written need {len(want)} (missing {gone})"
                problems.append(f"{name}: {detail if gone else 'differs from the images written'}")
        return problems


def output_id(output: str) -> str:
    return stem(output)


# --- reading ------------------------------------------------------------------------------------------------


def _annotations(tree: Tree) -> list[str]:
    """The annotation XMLs: in an Annotations folder, beside an image of the same name, or anywhere else when
    the XML is an ``<annotation>`` document (an ``annotations/`` folder beside ``images/``, as labelImg users
    publish them). Parsed once per tree."""
    if "voc" not in tree.cache:
        images = {posixpath.splitext(i)[0] for i in tree.images}
        found = []
        for name in tree.files:
            if not name.endswith(".xml"):
                continue
            folder = posixpath.basename(posixpath.dirname(name))
            if folder == ANNOTATIONS or posixpath.splitext(name)[0] in images or _is_voc(tree, name):
                found.append(name)
        tree.cache["voc"] = found
    return tree.cache["voc"]


def _is_voc(tree: Tree, name: str) -> bool:
    found = examine(tree, name)
    return found is not None and found.reads_as == "voc"


def _in_lists(name: str) -> bool:
    return name.endswith(".txt") and f"/{LISTS}/" in f"/{name}"


def _splits(tree: Tree, lists: tuple[str, ...]) -> tuple[dict[str, str] | None, list[str]]:
    """Image id -> split from ImageSets/Main (trainval alone as train); None when there are no Main lists."""
    main = {stem(f): f for f in lists if posixpath.basename(posixpath.dirname(f)) == "Main" and "_" not in stem(f)}
    chosen = {s: main[s] for s in ("train", "val", "test") if s in main}
    if not chosen and "trainval" in main:
        chosen = {"train": main["trainval"]}
    notes = (
        ["ImageSets/Main has trainval but no train list: trainval is read as train"]
        if "train" in chosen and "train" not in main
        else []
    )
    if not chosen:
        return None, notes
    splits: dict[str, str] = {}
    for split, name in chosen.items():
        for image_id, _ in _list_lines(tree, name):
            splits.setdefault(image_id, split)
    return splits, notes


def _list_lines(tree: Tree, name: str) -> list[tuple[str, str]]:
    """(image id, the rest of the line as written) of a list file."""
    try:
        text = tree.text(name)
    except (OSError, TextFileError):
        return []
    lines = []
    for line in text.splitlines():
        if line.strip():
            image_id = line.split()[0]
            lines.append((image_id, line.rstrip()[len(line) - len(line.lstrip()) + len(image_id) :]))
    return lines


def _read(tree: Tree, xml_name: str) -> tuple[ET.Element | None, str]:
    try:
        return parse_xml(tree.text(xml_name)), ""
    except (OSError, TextFileError) as e:
        return None, f"{xml_name}: cannot be read: {e.strerror if isinstance(e, OSError) else e}"


def _image_of(xml_name: str, document: ET.Element | None, images: dict[tuple[str, str], str]) -> str | None:
    """The image an XML describes: its ``filename`` (else the XML's name) beside it, or, from a folder of XMLs
    without images (``Annotations/``, ``annotations/``), in JPEGImages or another folder beside that one."""
    filename = document.findtext("filename") if document is not None else None
    wanted = [stem(filename)] if filename else []
    wanted.append(stem(xml_name))
    folder = posixpath.dirname(xml_name)
    places = [folder]
    if not any(place == folder for place, _ in images):
        root = posixpath.dirname(folder)
        places = [posixpath.join(root, "JPEGImages") if root else "JPEGImages",
                  *(f for f, _ in images if posixpath.dirname(f) == root and posixpath.basename(f) not in
                    (ANNOTATIONS, *SEGMENTATION))]  # fmt: skip
    for name in wanted:
        for place in places:
            if (place, name) in images:
                return images[(place, name)]
    return None


def _objects(xml_name: str, document: ET.Element | None, error: str, index: dict[str, int], image: str,
             files: set[str]) -> Objects:  # fmt: skip
    if document is None:
        return Objects((xml_name,), errors=(error,), unreadable=True)
    width = _number(document.findtext("size/width")) or 0.0
    height = _number(document.findtext("size/height")) or 0.0
    classes, records, problems = [], [], []
    for number, element in enumerate(document.iter("object"), 1):
        name = element.findtext("name", "").strip()
        where = f"{xml_name} object {number} ({name or 'no name'})"
        values = [_number(element.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
        if name not in index:
            problems.append(f"{where}: no <name>")
        elif any(v is None for v in values):
            problems.append(f"{where}: no numeric <bndbox>")
        else:
            xmin, ymin, xmax, ymax = (float(v or 0) for v in values)
            box = (xmin - 1, ymin - 1, xmax, ymax)  # 1-based inclusive -> 0-based corners
            if xmax < xmin or ymax < ymin:
                problems.append(f"{where}: zero-size box")
            elif width and height and clip_corners(*box, width, height) is None:
                problems.append(f"{where}: box outside the image")
            else:
                classes.append(index[name])
                text = ET.tostring(element, encoding="unicode")
                difficult = element.findtext("difficult", "0").strip() == "1"
                records.append({"box": box, "size": (width, height), "element": text, "difficult": difficult})
    if len(classes) > MAX_OBJECTS_PER_IMAGE:
        error = f"{xml_name}: {len(classes):,} objects, more than the {MAX_OBJECTS_PER_IMAGE:,} an image may have"
        return Objects((xml_name,), errors=(error,), unreadable=True)
    for element in list(document.iter("object")):
        document.remove(element)
    seg = [(kind, path) for kind in SEGMENTATION if (path := _segmentation_file(xml_name, image, kind)) in files]
    head = {"document": ET.tostring(document, encoding="unicode"), "segmentation": tuple(kind for kind, _ in seg)}
    return Objects((xml_name, *(p for _, p in seg)), tuple(classes), tuple(records), head, tuple(problems))


def _segmentation_file(xml_name: str, image: str, kind: str) -> str:
    root = posixpath.dirname(posixpath.dirname(xml_name))
    return posixpath.join(root, kind, f"{stem(image)}.png") if root else posixpath.join(kind, f"{stem(image)}.png")


def _xml_for(output: str, objects: Objects | None) -> str:
    """A background image's copy's XML: where its folder's other XMLs are, else in Annotations beside
    JPEGImages, else beside the image."""
    folder = posixpath.dirname(output)
    if objects is not None and objects.head and "xml_folder" in objects.head:
        folder = objects.head["xml_folder"]
    elif posixpath.basename(folder) == "JPEGImages":
        folder = posixpath.join(posixpath.dirname(folder), ANNOTATIONS)
    return posixpath.join(folder, f"{stem(output)}.xml")


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


# --- writing ------------------------------------------------------------------------------------------------


def voc_corners(box: tuple[float, ...], width: int, height: int) -> tuple[int, int, int, int]:
    """0-based corners -> VOC's 1-based inclusive pixel indices, inside the image."""
    x0, y0, x1, y1 = box
    xmin, ymin = min(width, max(1, round(x0) + 1)), min(height, max(1, round(y0) + 1))
    xmax, ymax = min(width, max(xmin, round(x1))), min(height, max(ymin, round(y1)))
    return xmin, ymin, xmax, ymax


def _cut(box: tuple[float, ...], width: float, height: float) -> bool:
    """Whether a box touches the image's border (the object may go on beyond it)."""
    x0, y0, x1, y1 = box
    return bool(width and height) and (x0 <= 0.5 or y0 <= 0.5 or x1 >= width - 0.5 or y1 >= height - 0.5)


def _renumbered(values: np.ndarray, positions: dict[int, int]) -> np.ndarray:
    """A SegmentationObject PNG with each object's value made its position in the copy's XML (VOC's rule: value
    k is the k-th object); objects that left the copy become background, the void border (255) stays."""
    lookup = np.arange(256, dtype=np.uint8)
    lookup[1:255] = 0
    for source_index, position in positions.items():
        if source_index + 1 < 255:
            lookup[source_index + 1] = min(position, 254)
    return lookup[values] if values.dtype == np.uint8 else values


def _set(element: ET.Element, path: str, text: str) -> None:
    node = element
    for part in path.split("/"):
        child = node.find(part)
        node = child if child is not None else ET.SubElement(node, part)
    node.text = text


def _flag(read: Read, written: Written, cls: str) -> str:
    """A per-class list's flag for a copy: 1 if it holds a non-difficult object of the class, 0 if only
    difficult ones, -1 if none (VOC's own)."""
    try:
        root = parse_xml(decode_text(read(written.labels[0])))
    except (OSError, TextFileError, IndexError):
        return " -1"
    found = [o.findtext("difficult", "0").strip() == "1" for o in root.iter("object")
             if o.findtext("name", "").strip() == cls]  # fmt: skip
    flag = "1" if any(not d for d in found) else "0" if found else "-1"
    return f" {flag:>2}"
