"""CreateML JSON, as Apple's Create ML and Roboflow's CreateML export write it: ``<split>/_annotations.createml.json``
beside the images, a list of ``{"image": name, "annotations": [{"label": ..., "coordinates": {"x", "y", "width",
"height"}}]}``. ``x`` and ``y`` are the box's centre in pixels (Apple's definition; a reader that takes them for
the corner moves every box by half its size). Every other key of an image or an annotation is kept.
"""

from __future__ import annotations

import json
from typing import Any

from expander.labels.listed import Listed, Listing, shape
from expander.textfiles import load_json


class CreateMl(Listed):
    name = "createml"
    description = "a CreateML JSON per split (_annotations.createml.json: image, annotations with centre coordinates)"

    def parse(self, text: str, path: str) -> Listing:
        data = load_json(text)
        if not isinstance(data, list):
            raise ValueError("not a list of images")
        listing = Listing()
        for number, item in enumerate(data, 1):
            if not (isinstance(item, dict) and isinstance(item.get("image"), str)):
                listing.errors.append(f"{path}: entry {number} names no image")
                continue
            objects = []
            for a in item.get("annotations") or []:
                try:
                    c = a["coordinates"]
                    x, y, w, h = (float(c[k]) for k in ("x", "y", "width", "height"))
                    label = str(a["label"])
                except (KeyError, TypeError, ValueError):
                    listing.errors.append(f"{path}: '{item['image']}': an annotation without label and coordinates")
                    continue
                own = {k: v for k, v in a.items() if k not in ("label", "coordinates")}
                objects.append(shape(label, "box", [x - w / 2, y - h / 2, x + w / 2, y + h / 2], own=own))
            own = {"keys": {k: v for k, v in item.items() if k not in ("image", "annotations")}, "item": item}
            listing.entries.append({"file": item["image"], "width": None, "height": None, "own": own,
                                    "objects": objects})  # fmt: skip
        return listing

    def new_entry(self, output: str) -> Any:
        return {"keys": {}, "item": None}

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        data = []
        for entry in entries:
            if "moved" not in entry:  # an original as the source wrote it
                data.append(entry["own"]["item"])
                continue
            annotations = []
            for s in entry["objects"]:
                x0, y0, x1, y1 = s["box"]
                coordinates = {"x": round((x0 + x1) / 2, 2), "y": round((y0 + y1) / 2, 2),
                               "width": round(x1 - x0, 2), "height": round(y1 - y0, 2)}  # fmt: skip
                annotations.append({"label": s["label"], "coordinates": coordinates, **s["own"]})
            data.append({"image": entry["file"], "annotations": annotations, **entry["own"]["keys"]})
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
