"""The conversion round trip (``--to``, issue 41 item 4): the same objects written in every format ``--to``
writes, each converted to every other and back, and the largest gap between a coordinate before and after.

Run it to print the table docs/labels.md shows: ``python tests/roundtrip.py``. ``tests/test_convert.py``
asserts every gap is at most half a pixel.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from labelled_data import MULTI, NAMES, SCENES, draw, write_yolo

from expander import expand
from expander.labels import registry
from expander.labels.labelled import options_for
from expander.scan import scan

TARGETS = tuple(t for t in registry.TARGETS if t != "yolo-pose")  # the targets that hold boxes without keypoints
OUTLINED = ("yolo-segment", "labelme", "coco", "cvat", "labelstudio")  # the targets that hold polygons
POSED = ("yolo-pose", "coco")  # the targets that hold pose keypoints
BOXES = {**SCENES, **MULTI, "e": (50, 40, [(1, 10.3, 5.6, 30.7, 22.2), (2, 0, 0, 50, 40)])}  # off the pixel grid
POLYGONS = {  # name -> (width, height, [(class, [(x, y), ...]), ...]), in pixels
    "p": (80, 60, [(0, [(10.5, 8.25), (40.0, 12.0), (30.75, 40.5)]), (2, [(50, 10), (75, 20), (70, 55), (45, 50)])]),
    "q": (64, 48, [(1, [(4.2, 4.4), (30.6, 6.1), (33.3, 30.8), (20.0, 44.4), (5.5, 30.0)])]),
}


def write_segments(root: Path) -> Path:
    """A YOLO segmentation set of ``POLYGONS``: train/images + train/labels, data.yaml."""
    for name, (width, height, objects) in POLYGONS.items():
        boxes = [(c, *np.array(p).min(axis=0), *np.array(p).max(axis=0)) for c, p in objects]
        (root / "train/images").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / "train/images" / f"{name}.png"), draw(width, height, boxes))
        lines = [f"{c} " + " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in points) for c, points in objects]
        (root / "train/labels").mkdir(parents=True, exist_ok=True)
        (root / "train/labels" / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    (root / "data.yaml").write_text(f"train: train/images\nnames: {list(NAMES)}\n")
    return root


POSES = {  # name -> (width, height, [(class, box, [(x, y, v) x 3]), ...]); keypoint 0 and 1 are left and right
    "r": (80, 60, [(0, (10, 8, 50, 40), [(20.5, 15.25, 2), (40.0, 16.0, 2), (30.25, 35.5, 1)]),
                   (1, (52, 20, 78, 58), [(55.0, 25.0, 2), (0, 0, 0), (70.5, 50.0, 2)])]),
    "t": (64, 48, [(2, (4, 4, 34, 44), [(10.2, 10.4, 2), (25.6, 11.1, 2), (18.0, 40.4, 2)])]),
}  # fmt: skip


def write_poses(root: Path) -> Path:
    """A YOLO pose set of ``POSES``: images/train + labels/train, data.yaml with kpt_shape [3, 3] and flip_idx."""
    for name, (width, height, objects) in POSES.items():
        (root / "images/train").mkdir(parents=True, exist_ok=True)
        boxes = [(c, *box) for c, box, _ in objects]
        assert cv2.imwrite(str(root / "images/train" / f"{name}.png"), draw(width, height, boxes))
        lines = []
        for c, (x0, y0, x1, y1), points in objects:
            box = [(x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height]
            values = [v for x, y, visible in points for v in (f"{x / width:.6f}", f"{y / height:.6f}", str(visible))]
            lines.append(f"{c} " + " ".join([*(f"{v:.6f}" for v in box), *values]))
        (root / "labels/train").mkdir(parents=True, exist_ok=True)
        (root / "labels/train" / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    (root / "data.yaml").write_text(
        f"train: images/train\nnames: {list(NAMES)}\nkpt_shape: [3, 3]\nflip_idx: [1, 0, 2]\n"
    )
    return root


def objects_of(root: Path, outlines: bool = False, keypoints: bool = False) -> dict[str, list]:
    """Every image's objects (class name, then box corners, outline points or keypoints, in pixels) as read."""
    dataset = scan(root)
    assert dataset.labels is not None
    chosen, settings = registry.get(dataset.labels.format), options_for(dataset.labels).setting
    found = {}
    for item in dataset.items:
        height, width = cv2.imread(str(root / item.rel_path)).shape[:2]
        assert item.objects is not None
        if outlines:
            shapes = chosen.outlines(item.objects, height, width)
            values = [[v for point in shape or [] for v in point] for shape in shapes]
        else:
            instances = chosen.instances(item.objects, height, width, lambda rel: (root / rel).read_bytes(), settings)
            shapes = instances.keypoints if keypoints else instances.boxes
            values = [[float(v) for v in shape] for shape in shapes]
        found[Path(item.rel_path).stem] = sorted(
            zip((dataset.classes[c] for c in item.objects.classes), values, strict=True)
        )
    return found


def converted(src: Path, out: Path, to: str) -> Path:
    assert expand(src, out, per_image=0, workers=1, to=to).exit_code == 0
    return out


def gap(before: dict, after: dict) -> float:
    """The largest difference between a coordinate before and after (inf: objects lost, gained or renamed)."""
    if before.keys() != after.keys():
        return float("inf")
    largest = 0.0
    for name in before:
        if [c for c, _ in before[name]] != [c for c, _ in after[name]]:
            return float("inf")
        for (_, a), (_, b) in zip(before[name], after[name], strict=True):
            if len(a) != len(b):
                return float("inf")
            largest = max(largest, float(np.abs(np.subtract(a, b)).max(initial=0.0)))
    return largest


def table(root: Path, kind: str = "boxes") -> dict[tuple[str, str], float]:
    """(A, B) -> the largest gap after A -> B -> A, for every pair of formats that hold the same things:
    ``kind`` boxes, outlines or keypoints."""
    formats = {"boxes": TARGETS, "outlines": OUTLINED, "keypoints": POSED}[kind]
    first = formats[0]
    write = {"boxes": lambda r: write_yolo(r, scenes=BOXES), "outlines": write_segments, "keypoints": write_poses}[kind]
    base = write(root / first)
    sets = {first: base, **{f: converted(base, root / f, f) for f in formats[1:]}}
    gaps = {}
    for a in formats:
        before = objects_of(sets[a], kind == "outlines", kind == "keypoints")
        for b in formats:
            if a != b:
                back = converted(converted(sets[a], root / f"{a}-{b}", b), root / f"{a}-{b}-{a}", a)
                gaps[a, b] = gap(before, objects_of(back, kind == "outlines", kind == "keypoints"))
    return gaps


def show(gaps: dict[tuple[str, str], float], formats: tuple[str, ...]) -> str:
    rows = ["| A \\ B | " + " | ".join(formats) + " |", "|---" * (len(formats) + 1) + "|"]
    for a in formats:
        rows.append(f"| {a} | " + " | ".join("-" if a == b else f"{gaps[a, b]:.2f}" for b in formats) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        print("Boxes: the largest gap in px after A -> B -> A (--per-image 0)\n")
        print(show(table(Path(folder) / "boxes"), TARGETS))
        print("\nPolygons: the largest gap of a vertex in px after A -> B -> A\n")
        print(show(table(Path(folder) / "outlines", "outlines"), OUTLINED))
        print("\nPose keypoints, the largest gap of a keypoint in pixels:\n")
        print(show(table(Path(folder) / "keypoints", "keypoints"), POSED))
