"""Expand and convert in one pass (``--to``): a dataset read as its format, every output written as another.

``Converted`` is a LabelFormat made of two: the source's format reads the dataset and gives each image's
``Instances``; a ``Target`` writes each output's label files from its moved instances, as neutral shapes (a
box, and the outline where the source has a polygon or mask), and the target's dataset-level files. Originals
are converted too (their label files cannot be copied into another format); their images are copied byte for
byte. What the target cannot hold is said before the run (polygons written as boxes, keypoints left out),
never dropped without a word. The run records the pair as its format, ``voc>yolo``, so ``verify`` and
``--resume`` read it back the same way.
"""

from __future__ import annotations

import json
import posixpath
import xml.etree.ElementTree as ET
from typing import Any

from expander.errors import LayoutError
from expander.labels.base import Files, LabelFormat, LabelSet, Objects, Read, Written
from expander.labels.coco import Coco, canonical, fragment_path
from expander.labels.createml import CreateMl
from expander.labels.csvboxes import CsvBoxes
from expander.labels.cvat import Cvat
from expander.labels.instances import Instances, mask_box, trace_polygons
from expander.labels.labelme import LabelMe
from expander.labels.labelstudio import LabelStudio
from expander.labels.listed import Listed, points_shape, shape
from expander.labels.tree import Tree, stem
from expander.labels.voc import Voc, voc_corners
from expander.labels.yolo import YoloDetect, YoloPose, YoloSegment, box_line, common_folder, dump_yaml, label_path
from expander.plan import Output
from expander.textfiles import load_yaml

SEPARATOR = ">"
POSE = ("coco", "yolo-pose")  # the formats whose keypoints are a pose (named points per object, left and right)


def shapes(moved: Instances, names: list[str], outlines: list | None = None,
           pose: dict | None = None) -> tuple[list[dict], list[int]]:  # fmt: skip
    """The objects as neutral shapes (label, box, outline or None, keypoints or None), and the class of each.
    ``outlines``: an original's polygons as its source has them (by source object), kept exactly; else a moved
    object's outline is traced from its mask. ``pose``: the source holds pose keypoints (COCO's, YOLO pose's),
    with each class's left-right order for a mirrored copy."""
    found, classes = [], []
    for position, class_id in enumerate(moved.classes):
        box, outline = [float(v) for v in moved.boxes[position]], None
        mask = moved.masks[position] if moved.masks else None
        if outlines is not None:
            outline = outlines[moved.index[position]]
        elif mask is not None and mask.any():
            traced, extent = trace_polygons(mask), mask_box(mask)
            if traced and extent is not None:
                outline, box = [[round(float(x), 2), round(float(y), 2)] for x, y in traced[0]], list(extent)
        points = _keypoints(moved, position, pose) if pose is not None else None
        found.append({"label": names[class_id], "box": [round(v, 2) for v in box], "outline": outline,
                      "keypoints": points})  # fmt: skip
        classes.append(class_id)
    return found, classes


def _keypoints(moved: Instances, position: int, pose: dict) -> list[list[float]] | None:
    """An object's pose keypoints as [x, y, v] (pixels; [0, 0, 0] where not labelled or left the image), left and
    right swapped in a mirrored copy."""
    flat = moved.keypoints[position] if moved.keypoints else []
    if not flat:
        return None
    points = [flat[k : k + 3] for k in range(0, len(flat), 3)]
    order = pose["flips"].get(str(moved.classes[position])) if moved.mirrored else None
    if order:
        points = [points[j] for j in order]
    return [[round(x, 2), round(y, 2), int(v)] if v > 0 else [0, 0, 0] for x, y, v in points]


class Target:
    """How one format writes converted outputs: each output's label files from neutral shapes, the dataset-level
    files from what was written, and what it holds (``outlines``: polygons; else they are written as boxes)."""

    name = ""
    outlines = False
    keypoints = False  # holds pose keypoints
    needs_keypoints = False  # cannot be written without them
    reads_as: LabelFormat = LabelFormat()  # the format that reads what this target writes

    def paths(self, output: str) -> tuple[str, ...]:
        raise NotImplementedError

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        raise NotImplementedError

    def dataset_files(self, names: list[str], written: list[Written], read: Read, pose: dict | None = None) -> Files:
        return {}

    def refuse(self, items: list | tuple) -> None:
        """Stop before any work if an image's labels cannot be placed (LayoutError)."""

    def reader(self) -> LabelFormat:
        """The format that reads what this target writes (it counts and checks the output's label files)."""
        return self.reads_as

    def labels(self, names: list[str], pose: dict | None = None) -> LabelSet:
        """A LabelSet of the output, as ``reader`` counts and checks its files with it."""
        return LabelSet(self.name, tuple(names))


class Converted(LabelFormat):
    """A dataset read as ``source``'s format and written as ``target``'s (``--to``)."""

    copies_labels = False

    def __init__(self, source: LabelFormat, target: Target) -> None:
        self.source, self.target = source, target
        self.name = f"{source.name}{SEPARATOR}{target.name}"
        self.description = source.description

    def coverage(self, tree: Tree) -> int:
        return self.source.coverage(tree)

    def read(self, tree: Tree) -> tuple[list, LabelSet]:
        items, labels = self.source.read(tree)
        return items, self.relabel(items, labels)

    def relabel(self, items: list | tuple, labels: LabelSet) -> LabelSet:
        """The source's LabelSet as this conversion's, with what the target cannot hold said.

        Raises:
            LayoutError: the target cannot place an image's labels (YOLO needs an images/ folder).
        """
        self.target.refuse(items)
        if self.target.needs_keypoints and self.pose(labels) is None:
            raise LayoutError(f"--to {self.target.name} writes pose keypoints, and the {self.source.name} labels of "
                              "this dataset have none. Nothing was written. Choose a target for boxes, e.g. --to "
                              "yolo.")  # fmt: skip
        notes = list(labels.notes)
        polygons = sum(1 for i in items if i.objects is not None and self.source.masked(i.objects))
        if polygons and not self.target.outlines:
            notes.append(f"--to {self.target.name} holds boxes only: the outlines (polygons, masks) of the objects "
                         f"of {polygons} image(s) are written as their boxes")  # fmt: skip
        if self.source.name in POSE and not self.target.keypoints:
            notes.append(f"--to {self.target.name} holds no keypoints: the objects' boxes are written, their keypoints "
                         "are not (--to coco or yolo-pose keeps them)")  # fmt: skip
        if self.source.name in ("labelme", "cvat", "labelstudio"):
            notes.append(f"--to {self.target.name}: point and line shapes are not converted as points; each is "
                         "written as the box around it")  # fmt: skip
        return LabelSet(self.name, labels.names, labels.files, labels.orphans, tuple(notes), labels.errors,
                        labels.details)  # fmt: skip

    def worker_settings(self, labels: LabelSet) -> dict[str, Any]:
        source = LabelSet(self.source.name, labels.names, details=labels.details)
        return {"source": self.source.worker_settings(source), "names": list(labels.names), "pose": self.pose(labels)}

    def pose(self, labels: LabelSet) -> dict[str, Any] | None:
        """The source's pose keypoints: how many, their names, each class's left-right order (None: no pose).
        Read from the source's LabelSet, or from a run's recorded settings (``verify``)."""
        details = labels.details
        if "pose" in details:
            return details["pose"]
        if self.source.name == "coco":
            named = [c["keypoints"] for c in details.get("categories", []) if c.get("keypoints")]
            if named:
                flips = details.get("flips", {})
                orders = {tuple(order) for order in flips.values()}  # one order for every class: YOLO's flip_idx
                flip_idx = list(next(iter(orders))) if len(orders) == 1 else None
                return {"count": len(named[0]), "names": [str(n) for n in named[0]], "flips": flips,
                        "flip_idx": flip_idx}  # fmt: skip
        if self.source.name == "yolo-pose":
            settings = details.get("settings") or {}
            flip = settings.get("flip_idx")
            flips = {str(c): flip for c in range(len(labels.names))} if flip else {}
            return {"count": settings["keypoints"], "names": None, "flips": flips, "flip_idx": flip}
        return None

    def masked(self, objects: Objects) -> int:
        return self.source.masked(objects)

    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        return self.source.instances(objects, height, width, read, settings["source"])

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        return self.target.paths(output)

    def render(self, objects: Objects, moved: Instances, paths: tuple[str, ...], out: Output, size: tuple[int, int],
               settings: dict[str, Any]) -> tuple[Files, list[int]]:  # fmt: skip
        found, classes = shapes(moved, settings["names"], pose=settings["pose"])
        return self.target.render(found, settings["names"], paths, out.rel_path, size, settings["pose"]), classes

    def render_original(self, objects: Objects, instances: Instances, paths: tuple[str, ...], out: Output,
                        size: tuple[int, int], settings: dict[str, Any]) -> tuple[Files, list[int]]:  # fmt: skip
        """An original's objects where the source has them: its boxes and polygons exactly."""
        outlines = self.source.outlines(objects, size[1], size[0])
        found, classes = shapes(instances, settings["names"], outlines, settings["pose"])
        return self.target.render(found, settings["names"], paths, out.rel_path, size, settings["pose"]), classes

    def roles(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        return self.target.reader().roles(paths)

    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        return self.target.reader().count(files, self.target.labels(list(labels.names), self.pose(labels)))

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        target_labels = self.target.labels(list(labels.names), self.pose(labels))
        return self.target.reader().check(files, height, width, target_labels)

    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        return self.target.dataset_files(list(labels.names), written, read, self.pose(labels))


# --- per-image targets ------------------------------------------------------------------------------------------


class YoloTarget(Target):
    """``class cx cy w h`` beside Ultralytics' rule (``images/`` -> ``labels/``), and a data.yaml naming the
    splits' image folders; ``yolo-segment`` writes each outline (a box as its four corners)."""

    def __init__(self, reads_as: YoloDetect) -> None:
        self.name, self.outlines, self.reads_as = reads_as.name, isinstance(reads_as, YoloSegment), reads_as

    def paths(self, output: str) -> tuple[str, ...]:
        return (label_path(output) or f"{posixpath.splitext(output)[0]}.txt",)

    def refuse(self, items: list | tuple) -> None:
        outside = [i.rel_path for i in items if label_path(i.rel_path) is None]
        if outside:
            raise LayoutError(
                f"--to {self.name}: {len(outside)} image(s) are not in an images/ folder (e.g. '{outside[0]}'), so "
                "no YOLO reader would find their labels (Ultralytics looks in the labels/ folder beside images/). "
                "Nothing was written. Convert to a format that lists its images instead, e.g. --to coco."
            )

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        width, height = size
        lines = []
        for s in found:
            class_id = names.index(s["label"])
            if self.outlines:
                x0, y0, x1, y1 = s["box"]
                outline = s["outline"] or [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
                values = " ".join(f"{min(max(x / width, 0), 1):.6f} {min(max(y / height, 0), 1):.6f}"
                                  for x, y in outline)  # fmt: skip
                lines.append(f"{class_id} {values}")
            else:
                lines.append(box_line(class_id, tuple(s["box"]), size))
        return {paths[0]: "".join(f"{line}\n" for line in lines).encode()}

    def dataset_files(self, names: list[str], written: list[Written], read: Read, pose: dict | None = None) -> Files:
        by_split: dict[str, list[str]] = {}
        for w in written:
            by_split.setdefault(w.split or "train", []).append(w.output)
        config: dict[str, Any] = {"path": "."}
        for split in ("train", "val", "test"):
            if split in by_split:
                config[split] = common_folder(by_split[split])
        config.update(nc=len(names), names=list(names))
        return {"data.yaml": dump_yaml(config)}


class YoloPoseTarget(YoloTarget):
    """``class cx cy w h`` then the keypoints (``x y v``, normalised), and ``kpt_shape`` (and ``flip_idx`` when
    the source has one) in data.yaml."""

    keypoints = True
    needs_keypoints = True

    def __init__(self) -> None:
        super().__init__(YoloPose())

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        width, height = size
        count = pose["count"] if pose else 0
        lines = []
        for s in found:
            points = s["keypoints"] or [[0, 0, 0]] * count
            values = "".join(f" {x / width:.6f} {y / height:.6f} {int(v)}" for x, y, v in points)
            lines.append(f"{box_line(names.index(s['label']), tuple(s['box']), size)}{values}")
        return {paths[0]: "".join(f"{line}\n" for line in lines).encode()}

    def dataset_files(self, names: list[str], written: list[Written], read: Read, pose: dict | None = None) -> Files:
        config = load_yaml(super().dataset_files(names, written, read, pose)["data.yaml"].decode())
        config["kpt_shape"] = [pose["count"] if pose else 0, 3]
        if pose and pose.get("flip_idx"):
            config["flip_idx"] = pose["flip_idx"]
        return {"data.yaml": dump_yaml(config)}

    def labels(self, names: list[str], pose: dict | None = None) -> LabelSet:
        settings = {"keypoints": pose["count"] if pose else 0, "ndim": 3, "flip_idx": (pose or {}).get("flip_idx")}
        return LabelSet(self.name, tuple(names), details={"settings": settings})


class VocTarget(Target):
    """A Pascal VOC XML beside each image (Roboflow's and labelImg's layout), 1-based inclusive pixels."""

    name = "voc"
    reads_as = Voc()

    def paths(self, output: str) -> tuple[str, ...]:
        return (posixpath.join(posixpath.dirname(output), f"{stem(output)}.xml"),)

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        width, height = size
        root = ET.Element("annotation")
        ET.SubElement(root, "folder").text = posixpath.basename(posixpath.dirname(output))
        ET.SubElement(root, "filename").text = posixpath.basename(output)
        extent = ET.SubElement(root, "size")
        for key, number in (("width", width), ("height", height), ("depth", 3)):
            ET.SubElement(extent, key).text = str(number)
        ET.SubElement(root, "segmented").text = "0"
        for s in found:
            element = ET.SubElement(root, "object")
            for key, value in (("name", s["label"]), ("pose", "Unspecified"), ("truncated", "0"), ("difficult", "0")):
                ET.SubElement(element, key).text = value
            box = ET.SubElement(element, "bndbox")
            for key, number in zip(("xmin", "ymin", "xmax", "ymax"), voc_corners(tuple(s["box"]), width, height),
                                   strict=True):  # fmt: skip
                ET.SubElement(box, key).text = str(number)
        ET.indent(root, "\t")
        return {paths[0]: (ET.tostring(root, encoding="unicode") + "\n").encode()}


class LabelMeTarget(Target):
    """A LabelMe 5 JSON beside each image: rectangles, and polygons where the source has outlines."""

    name = "labelme"
    outlines = True
    reads_as = LabelMe()

    def paths(self, output: str) -> tuple[str, ...]:
        return (posixpath.join(posixpath.dirname(output), f"{stem(output)}.json"),)

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        width, height = size
        shapes_ = []
        for s in found:
            x0, y0, x1, y1 = s["box"]
            kind, points = ("polygon", s["outline"]) if s["outline"] else ("rectangle", [[x0, y0], [x1, y1]])
            shapes_.append({"label": s["label"], "points": points, "group_id": None, "description": "",
                            "shape_type": kind, "flags": {}, "mask": None})  # fmt: skip
        document: dict[str, Any] = {"version": "5.5.0", "flags": {}, "shapes": shapes_,
                                    "imagePath": posixpath.basename(output), "imageData": None,
                                    "imageHeight": height, "imageWidth": width}  # fmt: skip
        return {paths[0]: (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()}


# --- targets that assemble dataset files ------------------------------------------------------------------------


class CocoTarget(Target):
    """A COCO JSON per split, ``annotations/instances_<split>.json``, file names from the dataset's root;
    categories numbered from 1 in class order; outlines as polygons; pose keypoints with their names (from a
    COCO source; ``keypoint_<n>`` from a YOLO pose source, which names none)."""

    name = "coco"
    outlines = True
    keypoints = True
    reads_as = Coco()

    def paths(self, output: str) -> tuple[str, ...]:
        return (fragment_path(output),)

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        annotations = []
        for s in found:
            x0, y0, x1, y1 = s["box"]
            segmentation = [[v for point in s["outline"] for v in point]] if s["outline"] else []
            annotation = {"category_id": names.index(s["label"]) + 1, "bbox": [x0, y0, round(x1 - x0, 2),
                          round(y1 - y0, 2)], "area": round((x1 - x0) * (y1 - y0), 2), "iscrowd": 0,
                          "segmentation": segmentation}  # fmt: skip
            if pose is not None:
                points = s["keypoints"] or [[0, 0, 0]] * pose["count"]
                annotation["keypoints"] = [v for point in points for v in point]
                annotation["num_keypoints"] = sum(1 for point in points if point[2] > 0)
            annotations.append(annotation)
        image = {"file_name": output, "width": size[0], "height": size[1]}
        return {paths[0]: canonical({"image": image, "annotations": annotations})}

    def dataset_files(self, names: list[str], written: list[Written], read: Read, pose: dict | None = None) -> Files:
        categories = self.labels(names, pose).details["categories"]
        per_split: dict[str, dict[str, list]] = {}
        for w in written:
            fragment = json.loads(read(w.labels[0]))
            data = per_split.setdefault(w.split or "default", {"images": [], "annotations": []})
            image_id = sum(len(d["images"]) for d in per_split.values()) + 1
            data["images"].append({"id": image_id, **fragment["image"]})
            for a in fragment["annotations"]:
                annotation_id = sum(len(d["annotations"]) for d in per_split.values()) + 1
                data["annotations"].append({"id": annotation_id, "image_id": image_id, **a})
        return {f"annotations/instances_{split}.json": (json.dumps({**data, "categories": categories},
                ensure_ascii=False) + "\n").encode() for split, data in per_split.items()}  # fmt: skip

    def labels(self, names: list[str], pose: dict | None = None) -> LabelSet:
        categories: list[dict[str, Any]] = [{"id": i + 1, "name": n, "supercategory": "none"}
                                            for i, n in enumerate(names)]  # fmt: skip
        if pose is not None:
            named = pose["names"] or [f"keypoint_{k}" for k in range(pose["count"])]
            categories = [{**c, "keypoints": named, "skeleton": []} for c in categories]
        return LabelSet(self.name, tuple(names), details={"categories": categories})


class ListedTarget(Target):
    """A list-file format (CSV, CreateML, CVAT, Label Studio): each output's entry as a fragment, the lists
    assembled per split at the dataset's root, images named by their path from it."""

    def __init__(self, reads_as: Listed, lists: str, outlines: bool) -> None:
        self.name, self.reads_as, self.lists, self.outlines = reads_as.name, reads_as, lists, outlines
        self.listed = reads_as

    def paths(self, output: str) -> tuple[str, ...]:
        return (f".{self.name}/{output}.json",)

    def render(self, found: list[dict], names: list[str], paths: tuple[str, ...], output: str,
               size: tuple[int, int], pose: dict | None = None) -> Files:  # fmt: skip
        fmt = self.listed
        objects = []
        for s in found:
            if s["outline"] and self.outlines:
                objects.append(points_shape(s["label"], "polygon", s["outline"], fmt.new_shape("polygon", s["label"])))
            else:
                objects.append(shape(s["label"], "box", s["box"], own=fmt.new_shape("box", s["label"])))
        entry = {"file": fmt.name_of(output), "width": size[0], "height": size[1], "own": fmt.new_entry(output),
                 "objects": objects, "moved": True, "copy": True}  # fmt: skip
        return {paths[0]: canonical(entry)}

    def dataset_files(self, names: list[str], written: list[Written], read: Read, pose: dict | None = None) -> Files:
        fmt = self.listed
        entries: dict[str, list[dict]] = {}
        for w in written:
            entry = json.loads(read(w.labels[0]))
            if w.split:
                entry["subset"] = w.split
            entries.setdefault(self.lists.format(split=f"{w.split}_" if w.split else ""), []).append(entry)
        return {path: fmt.write(fmt.new_extras(), group) for path, group in entries.items()}


TARGETS: dict[str, Target] = {
    "yolo": YoloTarget(YoloDetect()),
    "yolo-segment": YoloTarget(YoloSegment()),
    "yolo-pose": YoloPoseTarget(),
    "voc": VocTarget(),
    "labelme": LabelMeTarget(),
    "coco": CocoTarget(),
    "csv": ListedTarget(CsvBoxes(), "{split}labels.csv", outlines=False),
    "createml": ListedTarget(CreateMl(), "{split}annotations.createml.json", outlines=False),
    "cvat": ListedTarget(Cvat(), "annotations.xml", outlines=True),  # one file: each <image> says its subset
    "labelstudio": ListedTarget(LabelStudio(), "{split}tasks.json", outlines=True),
}
