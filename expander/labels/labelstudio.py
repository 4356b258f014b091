"""Label Studio's JSON export: a list of tasks, each with ``data`` naming its image (``/data/upload/<project>/
<prefix>-<name>``, ``/data/local-files/?d=<path>`` or a URL) and ``annotations``, each with a ``result`` list.
Rectangles (``rectanglelabels``), polygons (``polygonlabels``) and keypoints (``keypointlabels``) are read, in
percent of ``original_width``/``original_height`` as Label Studio stores them.

A task annotated more than once is read from one annotation: the one marked ``ground_truth``, else the newest
(label-studio-converter's order); a note says how many tasks had several. Cancelled annotations are not read.
A copy's task holds that annotation alone, with its results moved, and no ``id``, ``predictions`` or ``drafts``
(they described the source's pixels); an original's task is kept as it is. Other results (``choices``, text)
are kept. A rotated rectangle or a brush mask is not read: it stops the run, naming the task.
"""

from __future__ import annotations

import json
import posixpath
import re
import urllib.parse
from typing import Any

from expander.labels.listed import Listed, Listing, points_shape, shape
from expander.textfiles import load_json

READ = {"rectanglelabels": "box", "polygonlabels": "polygon", "keypointlabels": "points"}
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes an uploaded file's name so


class LabelStudio(Listed):
    name = "labelstudio"
    description = "Label Studio's JSON export (a list of tasks: data.image and annotations[].result in percent)"

    def parse(self, text: str, path: str) -> Listing:
        tasks = load_json(text)
        if not isinstance(tasks, list):
            raise ValueError("not a list of tasks")
        listing, several = Listing(), 0
        for number, task in enumerate(tasks, 1):
            file = _image_of_task(task)
            if file is None:
                listing.errors.append(f"{path}: task {number} names no image in its data")
                continue
            chosen = _chosen(task.get("annotations") or [])
            several += len([a for a in task.get("annotations") or [] if _kept(a)]) > 1
            where = f"{path}: task {task.get('id', number)} ({file})"
            objects, width, height = [], None, None
            for result in (chosen or {}).get("result") or []:
                kind = READ.get(str(result.get("type")))
                if kind is None:
                    if result.get("type") in ("brushlabels", "ellipselabels"):
                        listing.errors.append(f"{where}: {result['type']} results are not read")
                    continue
                try:
                    width, height = int(result["original_width"]), int(result["original_height"])
                    objects.append(_shape(result, kind, width, height))
                except (KeyError, TypeError, ValueError, IndexError) as e:
                    listing.errors.append(f"{where}: a {result.get('type')} result cannot be read ({e})")
            chosen_at = next((n for n, a in enumerate(task.get("annotations") or []) if a is chosen), None)
            own = {"task": task, "chosen": chosen_at}
            listing.entries.append({"file": file, "width": width, "height": height, "own": own, "objects": objects})
        if several:
            listing.notes.append(f"{path}: {several} task(s) annotated more than once, each read from one annotation "
                                 "(the ground truth, else the newest)")  # fmt: skip
        return listing

    def name_of(self, output: str) -> str:
        return f"/data/local-files/?d={urllib.parse.quote(output)}"  # served by Label Studio's local storage

    def new_entry(self, output: str) -> Any:
        annotation = {"result": [], "was_cancelled": False, "ground_truth": False}
        return {"task": {"data": {"image": self.name_of(output)}, "annotations": [annotation]}, "chosen": 0}

    def new_shape(self, kind: str, label: str) -> Any:
        key = {"box": "rectanglelabels", "polygon": "polygonlabels"}[kind]
        value = {key: [label], **({"closed": True} if kind == "polygon" else {"rotation": 0})}
        return {"from_name": "label", "to_name": "image", "type": key, "origin": "manual", "value": value}

    def locate(self, entry: dict) -> list[str]:
        file = entry["file"]
        parsed = urllib.parse.urlparse(file)
        local = urllib.parse.parse_qs(parsed.query).get("d")
        if local:
            return [local[0]]  # parse_qs has unquoted it
        name = posixpath.basename(urllib.parse.unquote(parsed.path))
        return [name, UPLOAD_PREFIX.sub("", name)]

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        tasks = []
        for entry in entries:
            task, chosen = dict(entry["own"]["task"]), entry["own"]["chosen"]
            annotations = list(task.get("annotations") or [])
            if chosen is not None and "moved" in entry:  # the others are in percent: they hold as they are
                annotation = dict(annotations[chosen])
                results = [r for r in annotation.get("result") or [] if r.get("type") not in READ]
                results += [_result(s, entry["width"], entry["height"]) for s in entry["objects"]]
                annotations[chosen] = {**annotation, "result": results}
            if "copy" in entry:  # the copy holds the chosen annotation alone; ids and predictions were the source's
                kept = [annotations[chosen]] if chosen is not None else []
                annotations = [{k: v for k, v in a.items() if k != "id"} for a in kept]
                task = {k: v for k, v in task.items() if k not in ("id", "predictions", "drafts")}
                task["total_annotations"] = len(annotations)
            data = dict(task.get("data") or {})
            data[_image_key(data)] = entry["file"]
            tasks.append({**task, "data": data, "annotations": annotations})
        return (json.dumps(tasks, indent=2, ensure_ascii=False) + "\n").encode()


def _image_key(data: dict) -> str:
    return "image" if "image" in data else next((k for k, v in data.items() if isinstance(v, str)), "image")


def _image_of_task(task: Any) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        return None
    value = data.get(_image_key(data))
    return value if isinstance(value, str) and value else None


def _kept(annotation: Any) -> bool:
    return isinstance(annotation, dict) and not (annotation.get("was_cancelled") or annotation.get("skipped"))


def _chosen(annotations: list) -> dict | None:
    kept = [a for a in annotations if _kept(a)]
    truth = [a for a in kept if a.get("ground_truth")]
    return (truth or sorted(kept, key=lambda a: str(a.get("created_at", "")), reverse=True) or [None])[0]


def _shape(result: dict, kind: str, width: int, height: int) -> dict:
    value = result["value"]
    label = str(value[result["type"]][0])
    own = {k: v for k, v in result.items() if k not in ("value", "original_width", "original_height")}
    # a keypoint's width is the size of its marker, not of an extent that moves
    moved = ("x", "y") if kind == "points" else ("x", "y", "width", "height", "points")
    own["value"] = {k: v for k, v in value.items() if k not in moved}
    if kind == "box":
        if float(value.get("rotation") or 0):
            raise ValueError("a rotated rectangle")
        x, y = float(value["x"]) * width / 100, float(value["y"]) * height / 100
        w, h = float(value["width"]) * width / 100, float(value["height"]) * height / 100
        return shape(label, kind, [x, y, x + w, y + h], own=own)
    if kind == "points":
        points = [[float(value["x"]) * width / 100, float(value["y"]) * height / 100]]
    else:
        points = [[float(x) * width / 100, float(y) * height / 100] for x, y in value["points"]]
    return points_shape(label, kind, points, own)


def _result(s: dict, width: int, height: int) -> dict:
    own = s["own"]
    value = dict(own["value"])
    if s["kind"] == "box":
        x0, y0, x1, y1 = s["box"]
        value.update(x=100 * x0 / width, y=100 * y0 / height, width=100 * (x1 - x0) / width,
                     height=100 * (y1 - y0) / height)  # fmt: skip
    elif s["kind"] == "points":
        x, y = s["points"][0]
        value.update(x=100 * x / width, y=100 * y / height)
    else:
        value["points"] = [[100 * x / width, 100 * y / height] for x, y in s["points"]]
    return {**{k: v for k, v in own.items() if k != "value"}, "original_width": width, "original_height": height,
            "value": value}  # fmt: skip
