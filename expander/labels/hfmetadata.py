"""Hugging Face ``imagefolder`` object detection: a ``metadata.jsonl`` beside the images (at the root or in each
split's folder), a JSON line per image: ``file_name`` (from the file's folder) and ``objects``, a dict of
lists with one value per object: ``bbox`` (COCO's ``[x, y, width, height]`` in pixels, as the datasets library's
object-detection guide has it) and ``categories`` (or ``category``): class ids, or names. Every other key of a
line, and every other list of ``objects`` (``area``, ``id``, ``iscrowd``), is kept, per object. A line whose
boxes are not 4 numbers (an 8-value quadrilateral) cannot be read as boxes: it stops the run, named.
A ``metadata.jsonl`` without ``objects`` (captions, class labels) is not a detection set: it is not read here;
nor is a ``metadata.csv`` (the library reads a CSV's columns as text, so it publishes no objects that way).
"""

from __future__ import annotations

import json
from typing import Any

from expander.labels.listed import Listed, Listing, shape
from expander.textfiles import load_json

CATEGORY_KEYS = ("categories", "category")


class HfMetadata(Listed):
    name = "hf-metadata"
    description = "a Hugging Face imagefolder metadata.jsonl (file_name, objects: bbox [x, y, w, h], categories)"

    def parse(self, text: str, path: str) -> Listing:
        listing = Listing()
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            row = load_json(line)
            where = f"{path} line {number}"
            if not (isinstance(row, dict) and isinstance(row.get("file_name"), str)):
                listing.errors.append(f"{where}: no file_name")
                continue
            objects = row.get("objects") or {}
            key = next((k for k in CATEGORY_KEYS if k in objects), CATEGORY_KEYS[0])
            boxes, classes = objects.get("bbox") or [], objects.get(key) or []
            if not (isinstance(boxes, list) and isinstance(classes, list) and len(boxes) == len(classes)):
                listing.errors.append(f"{where}: objects' bbox and {key} are not lists of one length")
                continue
            if any(not (isinstance(b, list) and len(b) == 4) for b in boxes):
                listing.errors.append(f"{where}: a bbox is not [x, y, width, height] (4 numbers)")
                continue
            shapes = []
            for n, ((x, y, w, h), category) in enumerate(zip(boxes, classes, strict=True)):
                own = {k: v[n] for k, v in objects.items() if k not in ("bbox", key) and isinstance(v, list)
                       and len(v) == len(boxes)}  # fmt: skip
                shapes.append(shape(str(category), "box", [x, y, x + w, y + h], own={"values": own, "id": category}))
            own = {"row": {k: v for k, v in row.items() if k not in ("file_name", "objects")}, "key": key,
                   "line": line}  # fmt: skip
            listing.entries.append({"file": row["file_name"], "width": None, "height": None, "own": own,
                                    "objects": shapes})  # fmt: skip
        return listing

    def new_entry(self, output: str) -> Any:
        return {"row": {}, "key": CATEGORY_KEYS[0], "line": None}

    def new_shape(self, kind: str, label: str) -> Any:
        return {"values": {}, "id": label}

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        lines = []
        for entry in entries:
            if "moved" not in entry:  # an original's line as the source wrote it
                lines.append(entry["own"]["line"])
                continue
            objects: dict[str, list] = {"bbox": [], entry["own"]["key"]: []}
            for s in entry["objects"]:
                x0, y0, x1, y1 = s["box"]
                objects["bbox"].append([round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)])
                objects[entry["own"]["key"]].append(s["own"]["id"])
                for k, v in s["own"]["values"].items():
                    objects.setdefault(k, []).append(v)
            row = {"file_name": entry["file"], **entry["own"]["row"], "objects": objects}
            lines.append(json.dumps(row, ensure_ascii=False))
        return "".join(f"{line}\n" for line in lines).encode()
