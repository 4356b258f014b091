"""Labelled expansion beside a careful hand-written albumentations loop with ``bbox_params``, same files written.

    .venv/bin/python benchmarks/bench_labels.py                 # about 4 minutes on 2 cores
    .venv/bin/python benchmarks/bench_labels.py --images 100 --rounds 2
    .venv/bin/python benchmarks/bench_labels.py --layout voc    # the same images as a labelImg VOC set
    .venv/bin/python benchmarks/bench_labels.py --agreement     # polygons against masks on Penn-Fudan, 1 minute

Data: the first ``--images`` training images of ../shared/datasets/aquarium_yolo (Roboflow's YOLO export: boxes
in ``train/labels/*.txt``, names in ``data.yaml``), copied into a temporary YOLO dataset. Both arms write
``--per-image`` copies of every image with the ``keras`` preset, as JPEG quality 95, and a label file per copy:

* ``expander``: ``python -m expander expand SRC -o OUT --per-image N -j 2 -q`` (a whole process each round: it
  also copies the originals and the other splits, checks every copy, and writes the manifest and data.yaml);
* ``hand loop``: what a careful user writes: ``multiprocessing.Pool(2)`` over the images, each reading the image
  and its label file, running ``A.Compose(preset, bbox_params=A.BboxParams(format="yolo", ...))`` N times with
  a seed per copy, writing the JPEG and the label file atomically (temporary name, then rename), and copying the
  original and its labels, so both arms write the same files.

With ``--layout voc`` the same images and boxes are written as labelImg publishes a VOC set (the raccoon set's
layout: ``images/`` + ``annotations/<name>.xml``, 1-based corners, boxes without area left out), the hand loop
reads each XML with ElementTree, uses ``format="pascal_voc"`` and writes each copy's XML with its boxes changed.

Arms alternate within rounds; the median of each and their ratio are printed.

``--agreement``: Penn-Fudan's 170 photos with their instance masks, written twice with the same image paths:
as a YOLO segmentation set (each instance's outer contour as a polygon) and as a mask set
(``images/train`` + ``masks/train``). Both are expanded with the same preset and seed, so each copy has the
same pixels in both; each copy's polygons, drawn, are compared with its moved instance masks (IoU, best
match per polygon), and each polygon's vertices with the moved mask's outline (distance in pixels). A third
copy of the set, YOLO pose with each instance's centroid as its one keypoint, is expanded the same way: each
moved keypoint against the centroid of the moved mask (an affine map moves a centroid to the centroid; a
border that cuts the instance does not, so those are counted apart).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AQUARIUM = REPO.parent / "shared" / "datasets" / "aquarium_yolo"


def source_voc(root: Path, count: int) -> Path:
    """The same images as a labelImg VOC set: ``images/`` + ``annotations/`` (boxes without area left out)."""
    import cv2
    import yaml

    names = yaml.safe_load((AQUARIUM / "data.yaml").read_text())["names"]
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for image in sorted((AQUARIUM / "train" / "images").glob("*.jpg"))[:count]:
        shutil.copy(image, root / "images" / image.name)
        height, width = cv2.imread(str(image), cv2.IMREAD_UNCHANGED).shape[:2]
        objects = ""
        for line in (AQUARIUM / "train" / "labels" / f"{image.stem}.txt").read_text().splitlines():
            c, cx, cy, w, h = (float(v) for v in line.split())
            x0, y0 = round((cx - w / 2) * width) + 1, round((cy - h / 2) * height) + 1
            x1, y1 = round((cx + w / 2) * width), round((cy + h / 2) * height)
            if x1 > x0 and y1 > y0:
                objects += (f"\t<object>\n\t\t<name>{names[int(c)]}</name>\n\t\t<difficult>0</difficult>\n"
                            f"\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n\t\t\t<xmax>{x1}</xmax>\n"
                            f"\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n")  # fmt: skip
        (root / "annotations" / f"{image.stem}.xml").write_text(
            f"<annotation>\n\t<folder>images</folder>\n\t<filename>{image.name}</filename>\n\t<size>\n"
            f"\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
            f"{objects}</annotation>\n"
        )
    return root


def _hand_voc_job(args: tuple) -> int:
    """One image of the VOC set: its copies and XMLs, written atomically; the number of files written."""
    import xml.etree.ElementTree as ET

    import albumentations as A
    import cv2

    from expander.pipeline import preset_dict

    image_path, xml_path, out, per_image, quality = args
    transform = A.from_dict(preset_dict("keras"))
    compose = A.Compose(transform.transforms, bbox_params=A.BboxParams(format="pascal_voc", label_fields=["names"],
                                                                      min_visibility=0.1, clip=True))  # fmt: skip
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    document = ET.parse(xml_path).getroot()
    objects = document.findall("object")
    boxes = [[float(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")] for o in objects]
    names = [o.findtext("name") for o in objects]
    shutil.copy(image_path, out / "images" / Path(image_path).name)
    shutil.copy(xml_path, out / "annotations" / Path(xml_path).name)
    for k in range(1, per_image + 1):
        compose.set_random_seed(zlib.crc32(f"{Path(image_path).name}:{k}".encode()))
        result = compose(image=image, bboxes=boxes, names=names)
        stem = f"{Path(image_path).stem}__aug{k:03d}"
        ok, data = cv2.imencode(".jpg", result["image"], [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        _write_atomic(out / "images" / f"{stem}.jpg", data.tobytes())
        copy = ET.fromstring(ET.tostring(document))
        for o in copy.findall("object"):
            copy.remove(o)
        copy.find("filename").text = f"{stem}.jpg"
        for name, box in zip(result["names"], result["bboxes"], strict=True):
            element = ET.SubElement(copy, "object")
            ET.SubElement(element, "name").text = name
            bndbox = ET.SubElement(element, "bndbox")
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
                ET.SubElement(bndbox, key).text = str(round(value))
        _write_atomic(out / "annotations" / f"{stem}.xml", ET.tostring(copy))
    return 2 + 2 * per_image


def hand_loop_voc(src: Path, out: Path, per_image: int) -> int:
    from multiprocessing import get_context

    for name in ("images", "annotations"):
        (out / name).mkdir(parents=True, exist_ok=True)
    jobs = [(p, src / "annotations" / f"{p.stem}.xml", out, per_image, 95)
            for p in sorted((src / "images").glob("*.jpg"))]  # fmt: skip
    with get_context("fork").Pool(2) as pool:
        return sum(pool.imap_unordered(_hand_voc_job, jobs, chunksize=4))


def source(root: Path, count: int) -> Path:
    """A YOLO dataset of the first ``count`` aquarium training images and their labels."""
    images = sorted((AQUARIUM / "train" / "images").glob("*.jpg"))[:count]
    for image in images:
        (root / "train" / "images").mkdir(parents=True, exist_ok=True)
        (root / "train" / "labels").mkdir(parents=True, exist_ok=True)
        shutil.copy(image, root / "train" / "images" / image.name)
        shutil.copy(AQUARIUM / "train" / "labels" / f"{image.stem}.txt", root / "train" / "labels")
    shutil.copy(AQUARIUM / "data.yaml", root / "data.yaml")
    return root


def _hand_job(args: tuple) -> int:
    """One image: its copies and label files, written atomically; the number of files written."""
    image_path, label_path, out, per_image, quality = args
    import albumentations as A
    import cv2

    from expander.pipeline import preset_dict

    transform = A.from_dict(preset_dict("keras"))
    compose = A.Compose(transform.transforms, bbox_params=A.BboxParams(format="yolo", label_fields=["classes"],
                                                                      min_visibility=0.1, clip=True))  # fmt: skip
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    rows = [line.split() for line in Path(label_path).read_text().splitlines() if line.strip()]
    boxes = [[float(v) for v in row[1:5]] for row in rows]
    classes = [int(row[0]) for row in rows]
    written = 0
    for name, folder in (("images", image_path), ("labels", label_path)):
        shutil.copy(folder, out / name / Path(folder).name)  # the original and its labels
        written += 1
    for k in range(1, per_image + 1):
        compose.set_random_seed(zlib.crc32(f"{Path(image_path).name}:{k}".encode()))
        result = compose(image=image, bboxes=boxes, classes=classes)
        stem = f"{Path(image_path).stem}__aug{k:03d}"
        ok, data = cv2.imencode(".jpg", result["image"], [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        _write_atomic(out / "images" / f"{stem}.jpg", data.tobytes())
        pairs = zip(result["classes"], result["bboxes"], strict=True)
        lines = "".join(f"{c} {' '.join(f'{v:.6f}' for v in box)}\n" for c, box in pairs)
        _write_atomic(out / "labels" / f"{stem}.txt", lines.encode())
        written += 2
    return written


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def hand_loop(src: Path, out: Path, per_image: int) -> int:
    from multiprocessing import get_context

    for name in ("images", "labels"):
        (out / "train" / name).mkdir(parents=True, exist_ok=True)
    jobs = [(p, src / "train" / "labels" / f"{p.stem}.txt", out / "train", per_image, 95)
            for p in sorted((src / "train" / "images").glob("*.jpg"))]  # fmt: skip
    with get_context("fork").Pool(2) as pool:
        return sum(pool.imap_unordered(_hand_job, jobs, chunksize=4))


def expander_run(src: Path, out: Path, per_image: int) -> int:
    command = [sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", str(per_image),
               "-j", "2", "-q"]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folders = ("train",) if (out / "train").is_dir() else ("images", "annotations")
    return sum(1 for folder in folders for p in (out / folder).rglob("*") if p.is_file())


PENNFUDAN = REPO.parent / "shared" / "datasets" / "pennfudan"


def agreement(root: Path, per_image: int, preset: str) -> None:
    import cv2
    import numpy as np

    for layout in ("yolo", "masks", "pose"):
        (root / layout / "images" / "train").mkdir(parents=True)
    (root / "yolo" / "labels" / "train").mkdir(parents=True)
    (root / "pose" / "labels" / "train").mkdir(parents=True)
    (root / "masks" / "masks" / "train").mkdir(parents=True)
    (root / "yolo" / "data.yaml").write_text("path: .\ntrain: images/train\nnames:\n  0: person\n")
    (root / "pose" / "data.yaml").write_text(
        "path: .\ntrain: images/train\nkpt_shape: [1, 3]\nflip_idx: [0]\nnames:\n  0: person\n"
    )
    for photo in sorted((PENNFUDAN / "PNGImages").glob("*.png")):
        mask = cv2.imread(str(PENNFUDAN / "PedMasks" / f"{photo.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
        height, width = mask.shape
        lines, poses = [], []
        for instance in range(1, int(mask.max()) + 1):
            contours, _ = cv2.findContours(
                (mask == instance).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
            )
            if contours:
                points = max(contours, key=cv2.contourArea).reshape(-1, 2) / [width, height]
                lines.append("0 " + " ".join(f"{v:.6f}" for v in points.ravel()))
                ys, xs = np.nonzero(mask == instance)  # one keypoint: the instance's centroid
                box = ((xs.min() + xs.max() + 1) / 2 / width, (ys.min() + ys.max() + 1) / 2 / height,
                       (xs.max() + 1 - xs.min()) / width, (ys.max() + 1 - ys.min()) / height)  # fmt: skip
                centroid = ((xs.mean() + 0.5) / width, (ys.mean() + 0.5) / height)
                poses.append("0 " + " ".join(f"{v:.6f}" for v in (*box, *centroid)) + " 2")
        (root / "pose" / "labels" / "train" / f"{photo.stem}.txt").write_text("\n".join(poses) + "\n")
        for layout in ("yolo", "masks", "pose"):
            shutil.copy(photo, root / layout / "images" / "train" / photo.name)
        shutil.copy(PENNFUDAN / "PedMasks" / f"{photo.stem}_mask.png", root / "masks" / "masks" / "train" / photo.name)
        (root / "yolo" / "labels" / "train" / f"{photo.stem}.txt").write_text("\n".join(lines) + "\n")
    for layout in ("yolo", "masks", "pose"):
        command = [sys.executable, "-m", "expander", "expand", str(root / layout), "-o", str(root / f"out-{layout}"),
                   "--per-image", str(per_image), "--preset", preset, "-j", "2", "-q"]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    ious, distances = [], []
    for label in sorted((root / "out-yolo" / "labels" / "train").glob("*__aug*.txt")):
        mask = cv2.imread(str(root / "out-masks" / "masks" / "train" / f"{label.stem}.png"), cv2.IMREAD_UNCHANGED)
        height, width = mask.shape
        for line in label.read_text().splitlines():
            points = (np.array(line.split()[1:], float).reshape(-1, 2) * [width, height]).round().astype(np.int32)
            drawn = np.zeros_like(mask, np.uint8)
            cv2.fillPoly(drawn, [points], 1)
            best = max(((drawn & (mask == i)).sum() / max(1, (drawn | (mask == i)).sum()), i)
                       for i in np.unique(mask) if i)  # fmt: skip
            ious.append(best[0])
            outline = cv2.findContours((mask == best[1]).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
            edge = np.concatenate([c.reshape(-1, 2) for c in outline])
            distances += np.sqrt(((points[:, None, :] - edge[None, :, :]) ** 2).sum(axis=2)).min(axis=1).tolist()
    inside, touching = [], []
    for label in sorted((root / "out-pose" / "labels" / "train").glob("*__aug*.txt")):
        mask = cv2.imread(str(root / "out-masks" / "masks" / "train" / f"{label.stem}.png"), cv2.IMREAD_UNCHANGED)
        height, width = mask.shape
        centroids = []
        for i in np.unique(mask)[1:]:
            ys, xs = np.nonzero(mask == i)
            border = bool(ys.min() == 0 or xs.min() == 0 or ys.max() == height - 1 or xs.max() == width - 1)
            centroids.append((xs.mean() + 0.5, ys.mean() + 0.5, border))
        for line in label.read_text().splitlines():
            values = line.split()
            if len(values) < 8 or float(values[7]) == 0 or not centroids:
                continue  # no keypoint, or one that left the image
            x, y = float(values[5]) * width, float(values[6]) * height
            cx, cy, border = min(centroids, key=lambda c: (c[0] - x) ** 2 + (c[1] - y) ** 2)
            (touching if border else inside).append(float(np.hypot(cx - x, cy - y)))
    ious_a, far = np.array(ious), np.array(distances)
    print(f"Penn-Fudan, {preset} x{per_image}: {len(ious_a)} polygons in the copies against their moved masks")
    print(f"IoU: min {ious_a.min():.3f}, p5 {np.percentile(ious_a, 5):.3f}, median {np.median(ious_a):.3f}")
    print(f"vertex to mask outline, px: median {np.median(far):.2f}, p95 {np.percentile(far, 95):.2f}, "
          f"max {far.max():.2f}")  # fmt: skip
    for what, found in (("inside the image", inside), ("cut by the border", touching)):
        d = np.array(found)
        print(f"keypoint (the instance centroid) to the moved mask's centroid, {len(d)} instances {what}, px: "
              f"median {np.median(d):.2f}, p95 {np.percentile(d, 95):.2f}, max {d.max():.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--per-image", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--agreement", action="store_true", help="only the polygon-against-mask agreement")
    parser.add_argument("--preset", default="keras", help="for --agreement")
    parser.add_argument("--layout", choices=("yolo", "voc"), default="yolo", help="Roboflow's YOLO export, or VOC")
    args = parser.parse_args()
    if args.agreement:
        with tempfile.TemporaryDirectory() as tmp:
            agreement(Path(tmp), args.per_image, args.preset)
        return
    if not AQUARIUM.is_dir():
        sys.exit(f"{AQUARIUM} is not here: the benchmark reads it.")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "expander")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = (source if args.layout == "yolo" else source_voc)(Path(tmp) / "src", args.images)
        hand = hand_loop if args.layout == "yolo" else hand_loop_voc
        times: dict[str, list[float]] = {"expander": [], "hand loop": []}
        files: dict[str, int] = {}
        for round_number in range(args.rounds):
            order = list(times) if round_number % 2 == 0 else list(times)[::-1]
            for arm in order:
                out = Path(tmp) / f"out-{arm.replace(' ', '-')}"
                shutil.rmtree(out, ignore_errors=True)
                began = time.perf_counter()
                files[arm] = (expander_run if arm == "expander" else hand)(src, out, args.per_image)
                times[arm].append(time.perf_counter() - began)
                print(f"round {round_number + 1}: {arm}: {times[arm][-1]:.2f} s, {files[arm]} files", flush=True)
        baseline = statistics.median(times["hand loop"])
        print(f"{args.images} images x {args.per_image} copies, {args.layout}, keras preset, 2 processes each")
        for arm, seconds in times.items():
            median = statistics.median(seconds)
            print(f"{arm:10s} median {median:6.2f} s  ({median / baseline:.2f}x the hand loop)  {files[arm]} files")


if __name__ == "__main__":
    main()
