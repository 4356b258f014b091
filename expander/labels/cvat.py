"""CVAT for images 1.1 XML, as CVAT exports a task (``annotations.xml`` or ``<task>.xml`` beside ``images/``) or
a project (``images/<subset>/``, each ``<image>`` with a ``subset``): ``<annotations><version>1.1</version>
<meta>...</meta><image id name width height>`` holding ``<box xtl ytl xbr ybr>``, ``<polygon points="x,y;x,y">``,
``<polyline>`` and ``<points>``, each with a ``label`` and optional ``<attribute>`` children.

Boxes and polygons move as such, polylines and points as their points. ``<version>`` and ``<meta>`` are kept
as they are; a copy's ``<image>`` gets the next free id. Masks, ellipses, cuboids and skeletons are not read:
an image holding one stops the run, naming it (``--skip-bad-labels`` leaves the shape out).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from expander.labels.listed import Listed, Listing, points_shape, shape
from expander.textfiles import parse_xml

SHAPES = {"box": "box", "polygon": "polygon", "polyline": "points", "points": "points"}
GEOMETRY = ("xtl", "ytl", "xbr", "ybr", "points", "label")


class Cvat(Listed):
    name = "cvat"
    description = "CVAT for images 1.1 XML (annotations.xml: <image> elements with boxes, polygons, polylines, points)"

    def parse(self, text: str, path: str) -> Listing:
        root = parse_xml(text)
        if root.tag != "annotations":
            raise ValueError(f"its root element is <{root.tag}>, not <annotations>")
        head = "\n  ".join(_xml(child) for child in root if child.tag in ("version", "meta"))
        listing = Listing(extras=head)
        for image in root.iter("image"):
            attributes = dict(image.attrib)
            name = attributes.pop("name", "")
            try:
                width, height = int(attributes.pop("width")), int(attributes.pop("height"))
            except (KeyError, ValueError):
                listing.errors.append(f"{path}: image '{name}' has no width and height")
                continue
            objects, others = [], []
            for element in image:
                kind = SHAPES.get(element.tag)
                if kind is None:
                    if element.tag in ("tag",):
                        others.append(_xml(element))  # an image-level tag: kept, it does not move
                    else:
                        listing.errors.append(f"{path}: image '{name}': <{element.tag}> shapes are not read (boxes, "
                                              "polygons, polylines and points are)")  # fmt: skip
                    continue
                try:
                    objects.append(_shape(element, kind))
                except (KeyError, ValueError):
                    listing.errors.append(f"{path}: image '{name}': a <{element.tag}> without its coordinates")
            own = {"attributes": attributes, "tags": others, "xml": _xml(image)}
            subset = attributes.get("subset")
            entry = {"file": name, "width": width, "height": height, "own": own, "objects": objects}
            listing.entries.append({**entry, "subset": subset} if subset else entry)
        return listing

    def locate(self, entry: dict) -> list[str]:
        name = entry["file"].replace("\\", "/")
        subset = entry.get("subset")
        return [f"{subset}/{name}", name] if subset else [name]

    def new_entry(self, output: str) -> Any:
        return {"attributes": {}, "tags": [], "xml": None}

    def new_shape(self, kind: str, label: str) -> Any:
        return {"tag": kind, "attributes": {"occluded": "0", "z_order": "0"}, "children": []}

    def new_extras(self) -> Any:
        return "<version>1.1</version>"

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        ids = [int(e["own"]["attributes"]["id"]) for e in entries if str(e["own"]["attributes"].get("id", "")).isdigit()
               and "copy" not in e]  # fmt: skip
        next_id = max(ids, default=-1) + 1
        root = ET.Element("annotations")
        for entry in entries:
            if "moved" not in entry:  # an original as the source wrote it
                root.append(ET.fromstring(entry["own"]["xml"]))
                continue
            attributes = dict(entry["own"]["attributes"])
            if "copy" in entry:
                attributes["id"], next_id = str(next_id), next_id + 1
            if entry.get("subset"):
                attributes.setdefault("subset", entry["subset"])
            image = ET.SubElement(root, "image", {**attributes, "name": entry["file"], "width": str(entry["width"]),
                                                  "height": str(entry["height"])})  # fmt: skip
            for s in entry["objects"]:
                image.append(_element(s))
            for tag in entry["own"]["tags"]:
                image.append(ET.fromstring(tag))
        ET.indent(root, "  ")
        body = ET.tostring(root, encoding="unicode")
        body = body.replace("<annotations>", "<annotations>\n  " + extras.strip(), 1) if extras else body
        return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode()


def _xml(element: ET.Element) -> str:
    """An element as XML text, without the whitespace that follows it."""
    return ET.tostring(element, encoding="unicode").rstrip()


def _shape(element: ET.Element, kind: str) -> dict:
    label = element.attrib["label"]
    own = {"tag": element.tag, "attributes": {k: v for k, v in element.attrib.items() if k not in GEOMETRY},
           "children": [_xml(child) for child in element]}  # fmt: skip
    if kind == "box":
        box = [float(element.attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr")]
        return shape(label, kind, box, own=own)
    points = [[float(v) for v in pair.split(",")] for pair in re.split(r";", element.attrib["points"].strip())]
    if any(len(p) != 2 for p in points):
        raise ValueError("points are not x,y pairs")
    return points_shape(label, kind, points, own)


def _element(s: dict) -> ET.Element:
    own = s["own"]
    attributes = {"label": s["label"], **own["attributes"]}
    if s["kind"] == "box":
        attributes.update(zip(("xtl", "ytl", "xbr", "ybr"), (f"{v:.2f}" for v in s["box"]), strict=True))
    else:
        attributes["points"] = ";".join(f"{x:.2f},{y:.2f}" for x, y in s["points"])
    element = ET.Element(own["tag"], attributes)
    for child in own["children"]:
        element.append(ET.fromstring(child))
    return element
