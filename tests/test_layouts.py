"""Labelled datasets as their tools publish them (tests/published_layouts.py): every image read, splits as the
dataset's own files say, only the training split augmented, and the output's dataset files pointing at the
right folders, read back the way the publishing tool reads them."""

from __future__ import annotations

import csv
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import published_layouts as layouts
import pytest
import yaml
from labelled_data import pipeline_file

from expander import expand
from expander.errors import LayoutError
from expander.scan import scan
from expander.verify import verify

# builder -> (format, splits, images read, class names)
EXPECTED = {
    "ultralytics_coco": ("yolo", ("train", "val"), 6, layouts.NAMES),
    "ultralytics_coco8": ("yolo", ("train", "val"), 5, layouts.NAMES),
    "ultralytics_segment": ("yolo-segment", ("train", "val"), 5, layouts.NAMES),
    "ultralytics_pose": ("yolo-pose", ("train", "val"), 5, ("person",)),
    "roboflow_yolo": ("yolo", ("train", "valid", "test"), 6, layouts.NAMES),
    "roboflow_coco": ("coco", ("train", "valid", "test"), 6, ("animals", *layouts.NAMES)),
    "coco_original": ("coco", ("train", "val"), 5, layouts.NAMES),
    "roboflow_voc": ("voc", ("train", "valid", "test"), 6, layouts.NAMES),
    "voc_devkit": ("voc", ("train", "val", "unlisted"), 6, layouts.NAMES),
}


def build(name: str, root: Path) -> Path:
    if name.startswith("masks_"):
        return layouts.masks(root, name[len("masks_") :])
    return getattr(layouts, name)(root)


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_published_layout_is_read_whole_with_its_splits_and_names(tmp_path: Path, name: str) -> None:
    fmt, splits, images, names = EXPECTED[name]
    dataset = scan(build(name, tmp_path / "src"))
    assert dataset.labels.format == fmt
    assert dataset.splits == splits
    assert len(dataset.items) == images
    assert dataset.classes == names


@pytest.mark.parametrize("layout", ["split_images", "images_split"])
def test_both_mask_layouts_are_read_with_their_background_image(tmp_path: Path, layout: str) -> None:
    dataset = scan(layouts.masks(tmp_path / "src", layout))
    assert dataset.labels.format == "masks" and dataset.splits == ("train", "val")
    assert len(dataset.items) == 6  # 4 train (one without a mask) + 2 val
    background = [i for i in dataset.items if not i.objects.label_files]
    assert [Path(i.rel_path).stem for i in background] == ["000000000724"]
    assert dataset.labels.notes == ("1 image(s) have no mask: background images, their copies get an empty mask",)
    out = tmp_path / "out"
    result = expand(tmp_path / "src", out, per_image=1, workers=1)
    assert result.to_dict()["totals"]["written"] == 6 + 4  # nothing dropped: every image, and a copy of each train one
    copy = next(r for r in rows(out) if Path(r["output"]).stem == "000000000724__aug001")
    mask = cv2.imread(str(out / copy["labels"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (64, 64) and not mask.any() and copy["objects"] == "0"
    assert verify(out)["ok"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_only_the_training_split_is_augmented_and_the_output_verifies(tmp_path: Path, name: str) -> None:
    src = build(name, tmp_path / "src")
    out = tmp_path / "out"
    result = expand(src, out, per_image=1, workers=1, preset="light")
    assert result.exit_code == 0, result.failures
    dataset = scan(src)
    train = sum(1 for i in dataset.items if i.split == "train")
    written = rows(out)
    copies = [r for r in written if r["copy"] != "original"]
    assert len(copies) == train and {r["split"] for r in copies} == {"train"}
    assert len(written) - len(copies) == len(dataset.items)
    check = verify(out, replay=4)
    assert check["ok"], check


def ultralytics_images(yaml_file: Path, key: str) -> list[Path]:
    """A split's images as Ultralytics' check_det_dataset and load_dataset find them (path, ../, list files)."""
    data = yaml.safe_load(yaml_file.read_text())
    path = Path(data.get("path") or yaml_file.parent)
    if not path.exists() and not path.is_absolute():
        path = yaml_file.parent  # not downloaded: the tests keep datasets where the YAML is
    entry = path / data[key]
    if not entry.exists() and data[key].startswith("../"):
        entry = path / data[key][3:]
    if entry.suffix == ".txt":
        parent = str(entry.parent) + "/"
        return [Path(x.replace("./", parent) if x.startswith("./") else x) for x in entry.read_text().split()]
    return sorted(p for p in entry.rglob("*") if p.suffix in (".jpg", ".png"))


@pytest.mark.parametrize("name", ["ultralytics_coco", "ultralytics_coco8", "roboflow_yolo"])
def test_the_output_yaml_points_ultralytics_at_the_right_splits(tmp_path: Path, name: str) -> None:
    src = build(name, tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=2, workers=1)
    source_yaml = next(p for p in src.iterdir() if p.suffix == ".yaml")
    output_yaml = out / source_yaml.name
    config = yaml.safe_load(output_yaml.read_text())
    assert {k: v for k, v in config.items() if k not in ("train", "val", "test", "path")} == {
        k: v for k, v in yaml.safe_load(source_yaml.read_text()).items() if k not in ("train", "val", "test", "path")
    }  # names, nc, roboflow: the source's own
    val = "valid" if name == "roboflow_yolo" else "val2017" if name == "ultralytics_coco" else "val"
    train = ultralytics_images(output_yaml, "train")
    assert len(train) == 3 * sum(1 for i in scan(src).items if i.split == "train")
    assert all(p.is_file() for p in train)
    assert sorted(p.name for p in ultralytics_images(output_yaml, "val")) == sorted(
        Path(i.rel_path).name for i in scan(src).items if i.split in ("val", "valid")
    )
    assert all(val in p.as_posix() for p in ultralytics_images(output_yaml, "val"))
    assert not any("__aug" in p.name for p in ultralytics_images(output_yaml, "val"))


def test_coco_splits_load_in_pycocotools_with_the_empty_supercategory_kept(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    src = layouts.roboflow_coco(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1)
    for split, images in (("train", 6), ("valid", 2), ("test", 1)):
        coco = COCO(str(out / split / "_annotations.coco.json"))
        assert len(coco.dataset["images"]) == images
        assert coco.dataset["categories"][0] == {"id": 0, "name": "animals", "supercategory": "none"}
        for image in coco.dataset["images"]:
            assert (out / split / image["file_name"]).is_file()


def test_balance_on_a_class_list_with_an_unused_class_reports_it_and_runs(tmp_path: Path) -> None:
    src = layouts.roboflow_coco(tmp_path / "src")
    result = expand(src, tmp_path / "out", balance=True, workers=1)
    assert result.exit_code == 0
    targets = {t["class"]: t for t in result.to_dict()["labels"]["targets"]}
    assert targets["animals"]["reason"] == "no training image holds this class, so no copy can raise it"
    assert targets["animals"]["short"] == 2  # the target is 2 (cat, dog and fox: 1, 1, 2 in train)


def test_a_target_not_reached_is_reported_with_the_reason(tmp_path: Path) -> None:
    src = layouts.roboflow_voc(tmp_path / "src")
    pipeline = tmp_path / "away.yaml"  # every other copy shifted out of the image: its objects leave
    pipeline.write_text("- __class_fullname__: Affine\n  translate_percent: {x: [0.0, 1.0], y: [0.0, 0.0]}\n  p: 1\n")
    result = expand(src, tmp_path / "out", target_per_class=12, pipeline=pipeline, workers=1)
    short = [t for t in result.to_dict()["labels"]["targets"] if t["short"]]
    assert short, result.to_dict()["labels"]["targets"]
    assert all("left the image or fell below --min-visibility" in t["reason"] for t in short)


def test_voc_devkit_keeps_every_list_moves_segmentation_and_writes_1_based_boxes(tmp_path: Path) -> None:
    src = layouts.voc_devkit(tmp_path / "src")
    voc_in, out = src / "VOCdevkit" / "VOC2012", tmp_path / "out"
    result = expand(src, out, per_image=1, workers=1, preset="light")
    assert result.exit_code == 0
    voc = out / "VOCdevkit" / "VOC2012"
    source_lists = sorted(p.relative_to(voc_in) for p in (voc_in / "ImageSets").rglob("*.txt"))
    assert sorted(p.relative_to(voc) for p in (voc / "ImageSets").rglob("*.txt")) == source_lists
    train_ids = (voc / "ImageSets/Main/train.txt").read_text().split()
    assert len(train_ids) == 6 and all(f"{i}__aug001" in train_ids for i in layouts.TRAIN)
    assert (voc / "ImageSets/Main/val.txt").read_text() == (voc_in / "ImageSets/Main/val.txt").read_text()
    trainval = (voc / "ImageSets/Main/trainval.txt").read_text().split()
    assert len(trainval) == 8 and "000000000025__aug001" in trainval
    assert (voc / "ImageSets/Segmentation/train.txt").read_text() == "000000000025\n000000000025__aug001\n"
    dog_train = dict(line.split() for line in (voc / "ImageSets/Main/dog_train.txt").read_text().splitlines())
    assert dog_train["000000000025"] == "1" and dog_train["000000000009__aug001"] == "-1"
    from PIL import Image

    for kind in ("SegmentationClass", "SegmentationObject"):
        with Image.open(voc / kind / "000000000025__aug001.png") as moved:
            assert moved.mode == "P" and moved.size == (80, 100) and moved.getpalette() == layouts.voc_palette()
            assert 255 in np.array(moved)  # the void border moved with the object
    for path in (voc / "Annotations").glob("*__aug001.xml"):
        root = ET.parse(path).getroot()
        assert root.findtext("filename") == path.stem + ".jpg"
        width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        for box in root.iter("bndbox"):
            xmin, ymin, xmax, ymax = (int(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            assert 1 <= xmin <= xmax <= width and 1 <= ymin <= ymax <= height
    assert "1 image(s) in no ImageSets/Main list: copied, not augmented" in result.to_dict()["labels"]["notes"]


def test_voc_copies_name_themselves_and_mark_what_their_border_cuts(tmp_path: Path) -> None:
    src = layouts.roboflow_voc(tmp_path / "src")
    pipeline = tmp_path / "shift.yaml"  # half the image shifted out: the objects are cut by the border
    pipeline.write_text("- __class_fullname__: Affine\n  translate_percent: {x: [0.5, 0.5], y: [0.0, 0.0]}\n  p: 1\n")
    out = tmp_path / "out"
    expand(src, out, per_image=1, pipeline=pipeline, workers=1, keep_empty=True)
    copy = next((out / "train").glob("000000000030*__aug001.xml"))
    root = ET.parse(copy).getroot()
    assert root.findtext("path") == f"train/{copy.stem}.jpg" and root.findtext("filename") == f"{copy.stem}.jpg"
    (obj,) = root.iter("object")
    assert obj.findtext("truncated") == "1" and obj.findtext("bndbox/xmax") == "120"
    original = ET.parse(next((out / "train").glob("000000000030*0a1b2c3d.xml"))).getroot()
    assert next(original.iter("object")).findtext("truncated") == "0"


@pytest.mark.parametrize(
    ("name", "corrupt", "reason"),
    [
        ("roboflow_coco", lambda out: (out / "train/_annotations.coco.json").write_text("{"),
         "train/_annotations.coco.json: cannot be read"),
        ("roboflow_yolo", lambda out: (out / "data.yaml").write_text(
            (out / "data.yaml").read_text().replace("- fox\n", "")), "'data.yaml': nc is 3 but names has 2 entries"),
        ("ultralytics_coco", lambda out: (out / "train2017.txt").write_text(
            "".join((out / "train2017.txt").read_text().splitlines(keepends=True)[1:])),
         "train2017.txt: lists 7 images, the manifest 8"),
        ("voc_devkit", lambda out: (out / "VOCdevkit/VOC2012/ImageSets/Main/trainval.txt").write_text("x\n"),
         "VOCdevkit/VOC2012/ImageSets/Main/trainval.txt: lists 1 lines where the images written need 8"),
    ],
)  # fmt: skip
def test_verify_fails_on_each_damaged_dataset_file(tmp_path: Path, name: str, corrupt, reason: str) -> None:
    src = build(name, tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1)
    assert verify(out)["ok"]
    corrupt(out)
    result = verify(out)
    assert not result["ok"]
    reasons = [problem["reason"] for problem in result["labels"]]
    assert any(reason in r for r in reasons), reasons


def test_segmentation_polygons_follow_the_pixels(tmp_path: Path) -> None:
    src = layouts.ultralytics_segment(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=8, workers=1, preset="keras")
    scores = []
    for row in rows(out):
        if row["copy"] == "original" or row["split"] != "train":
            continue
        image = cv2.imread(str(out / row["output"]))
        height, width = image.shape[:2]
        for line in (out / row["labels"]).read_text().splitlines():
            values = [float(v) for v in line.split()[1:]]
            points = np.array(values).reshape(-1, 2) * (width, height)
            drawn = np.zeros((height, width), np.uint8)
            cv2.fillPoly(drawn, [np.round(points).astype(np.int32)], 1)
            bright = np.abs(image.astype(int) - layouts.BACKGROUND[::-1]).max(axis=-1) > 80
            x0, y0, x1, y1 = (round(v) for v in (*points.min(axis=0), *points.max(axis=0)))
            region = np.zeros_like(bright)
            region[max(0, y0 - 3) : y1 + 3, max(0, x0 - 3) : x1 + 3] = True  # this object's neighbourhood
            target = bright & region
            scores.append((drawn.astype(bool) & target).sum() / max(1, (drawn.astype(bool) | target).sum()))
    assert len(scores) >= 30
    assert min(scores) >= 0.7 and float(np.percentile(scores, 5)) >= 0.8, sorted(scores)[:5]


def test_pose_keypoints_follow_the_pixels_and_swap_sides_in_mirrored_copies(tmp_path: Path) -> None:
    src = layouts.ultralytics_pose(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=8, workers=1, preset="keras")  # flips half the copies
    distances, mirrored = [], 0
    for row in rows(out):
        if row["copy"] == "original" or row["split"] != "train":
            continue
        image = cv2.cvtColor(cv2.imread(str(out / row["output"])), cv2.COLOR_BGR2RGB)
        height, width = image.shape[:2]
        for line in (out / row["labels"]).read_text().splitlines():
            cx, cy, w, h, *values = (float(v) for v in line.split()[1:])
            points = [(values[k] * width, values[k + 1] * height, values[k + 2]) for k in range(0, 9, 3)]
            box = (
                (cx - w / 2) * width - 3,
                (cy - h / 2) * height - 3,
                (cx + w / 2) * width + 3,
                (cy + h / 2) * height + 3,
            )
            blobs = [_blob(image, colour, box) for colour in layouts.KEYPOINT_COLOURS]
            if None in blobs or any(v == 0 for *_, v in points):
                continue
            straight = sum(np.hypot(x - b[0], y - b[1]) for (x, y, _), b in zip(points, blobs, strict=True))
            swapped_blobs = [blobs[1], blobs[0], blobs[2]]
            swapped = sum(np.hypot(x - b[0], y - b[1]) for (x, y, _), b in zip(points, swapped_blobs, strict=True))
            # A point labelled "left" sits on the left marker; in a mirrored copy that marker is the source's right one
            flipped = blobs[0][0] > blobs[1][0]
            mirrored += flipped
            best = swapped if flipped else straight
            assert best < (straight if flipped else swapped), (row["output"], points, blobs)
            distances.append(best / 3)
    assert len(distances) >= 20 and mirrored >= 4
    assert max(distances) <= 2.5 and float(np.percentile(distances, 95)) <= 1.5, sorted(distances)[-5:]


def _blob(image: np.ndarray, colour, box) -> tuple[float, float] | None:
    """Where a keypoint's marker is, inside one object's box: the centre of the pixels of its colour."""
    near = np.abs(image.astype(int) - colour).max(axis=-1) < 60
    x0, y0, x1, y1 = (max(0, round(v)) for v in box)
    inside = np.zeros_like(near)
    inside[y0:y1, x0:x1] = True
    ys, xs = np.nonzero(near & inside)
    return (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5) if len(xs) else None


def test_the_published_ultralytics_coco_json_beside_yolo_labels_does_not_win(tmp_path: Path) -> None:
    src = layouts.ultralytics_coco(tmp_path / "src")
    assert (src / "annotations/instances_val2017.json").is_file()
    dataset = scan(src)
    assert dataset.labels.format == "yolo" and len(dataset.items) == 6  # YOLO labels every image, COCO only val


def test_an_explicit_format_that_leaves_images_out_is_refused(tmp_path: Path) -> None:
    """Ultralytics' COCO ships a COCO JSON for val only: read as coco, its 4 train images would be dropped."""
    src = layouts.ultralytics_coco(tmp_path / "src")
    with pytest.raises(LayoutError) as caught:
        scan(src, "coco")
    assert str(caught.value) == (
        f"4 image(s) in '{src}' are not part of its coco layout (4 in images/train2017/; e.g. "
        "images/train2017/000000000009.jpg): they are neither labelled nor background images of it, and would be "
        "left out. Nothing was written. Move them out of the dataset, or pass --labels with the format that reads "
        "them (--labels none reads class folders)."
    )


def test_a_mask_layout_copy_keeps_its_palette(tmp_path: Path) -> None:
    src = layouts.masks(tmp_path / "src", "split_images")
    from PIL import Image

    mask = src / "train/masks/000000000025.png"
    with Image.open(mask) as image:
        values = np.array(image)
    palette_image = Image.fromarray(values)
    palette_image.putpalette(layouts.voc_palette())
    palette_image.save(mask)  # a palette PNG, as many segmentation tools save masks
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1, preset="light")
    with Image.open(out / "train/masks/000000000025__aug001.png") as copy:
        assert copy.mode == "P" and copy.getpalette() == layouts.voc_palette()
        assert set(np.unique(np.array(copy)).tolist()) <= {0, 1, 2, 3}


def test_labels_flag_on_inspect_and_preview(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from expander.cli import app

    src = layouts.masks(tmp_path / "src", "images_split")
    runner = CliRunner()
    as_folders = runner.invoke(app, ["inspect", str(src), "--labels", "none", "--json", "-j", "1"])
    assert as_folders.exit_code == 2  # images/ and masks/ are not class folders of one layout
    labelled = runner.invoke(app, ["inspect", str(src), "--labels", "masks", "--json", "-j", "1"])
    assert labelled.exit_code == 0 and json.loads(labelled.stdout)["labels"]["format"] == "masks"
    sheet = tmp_path / "sheet.png"
    shown = runner.invoke(app, ["preview", str(src), "--labels", "masks", "-n", "2", "--out", str(sheet)])
    assert shown.exit_code == 0, shown.output
    shutil.rmtree(src / "masks")
    missing = runner.invoke(app, ["inspect", str(src), "--labels", "masks", "-j", "1"])
    assert missing.exit_code == 2 and "No labelled images found" in missing.stderr


def _obb_corners(line: str, width: int, height: int) -> np.ndarray:
    return np.array([float(v) for v in line.split()[1:]]).reshape(4, 2) * (width, height)


def test_oriented_boxes_stay_oriented_boxes_that_follow_the_pixels(tmp_path: Path) -> None:
    """A rotated box mirrored by a flip is the mirrored rectangle (each corner within 1.5 px of one expected);
    one that a shift pushes over the edge is cut there, with every corner inside the image."""
    import zoo

    src = zoo.ultralytics_dota8(tmp_path / "src")
    flip = pipeline_file(tmp_path / "flip.json", {"__class_fullname__": "HorizontalFlip", "p": 1.0})
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1, pipeline=str(flip))

    label = "labels/train/P1053__1024__0___90"
    source_lines = (src / f"{label}.txt").read_text().splitlines()
    copy_lines = (out / f"{label}__aug001.txt").read_text().splitlines()
    assert [line.split()[0] for line in copy_lines] == ["0", "1"]
    for source, copy in zip(source_lines, copy_lines, strict=True):
        expected = _obb_corners(source, 64, 64) * (-1, 1) + (64, 0)
        found = _obb_corners(copy, 64, 64)
        distances = np.linalg.norm(found[:, None] - expected[None], axis=-1).min(axis=1)
        assert distances.max() <= 1.5, (found, expected)
    assert (out / f"{label}.txt").read_bytes() == (src / f"{label}.txt").read_bytes()

    ten_right = {"__class_fullname__": "Affine", "translate_px": {"x": [10, 10], "y": [0, 0]}, "p": 1.0}
    shift = pipeline_file(tmp_path / "shift.json", ten_right)
    shifted = tmp_path / "shifted"
    expand(src, shifted, per_image=1, workers=1, pipeline=str(shift))
    (cut,) = [line for line in (shifted / f"{label}__aug001.txt").read_text().splitlines() if line.startswith("0 ")]
    corners = _obb_corners(cut, 64, 64)
    assert corners.min() >= 0 and corners.max() <= 64
    assert corners[:, 0].max() == 64  # the plane's box (x 44-55), pushed 10 px right, ends at the edge
    assert runner_verify(shifted) == 0


def runner_verify(out: Path) -> int:
    from typer.testing import CliRunner

    from expander.cli import app

    return CliRunner().invoke(app, ["verify", str(out), "--replay", "2"]).exit_code


def test_labelme_shapes_follow_the_pixels_and_keep_their_keys(tmp_path: Path) -> None:
    """Flipped left to right, each LabelMe 5 shape is mirrored: a rectangle's corners, a point, a circle's centre
    and a line's points exactly, a polygon within 1.5 px; every other key of the document and the shapes stays."""
    import zoo

    src = zoo.labelme_5(tmp_path / "src")
    flip = pipeline_file(tmp_path / "flip.json", {"__class_fullname__": "HorizontalFlip", "p": 1.0})
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1, pipeline=str(flip))

    source = json.loads((src / "train/shot_001.json").read_text())
    copy = json.loads((out / "train/shot_001__aug001.json").read_text())
    assert {k: v for k, v in copy.items() if k != "shapes"} == {
        "version": "5.5.0", "flags": {}, "imagePath": "shot_001__aug001.png", "imageData": None, "imageHeight": 80,
        "imageWidth": 100,
    }  # fmt: skip
    assert [s["label"] for s in copy["shapes"]] == [s["label"] for s in source["shapes"]]
    for before, after in zip(source["shapes"], copy["shapes"], strict=True):
        assert {k: v for k, v in after.items() if k != "points"} == {k: v for k, v in before.items() if k != "points"}
        mirrored = np.array(before["points"]) * (-1, 1) + (100, 0)
        found = np.array(after["points"])
        if before["shape_type"] == "polygon":
            distances = np.linalg.norm(mirrored[:, None] - found[None], axis=-1).min(axis=1)
            assert distances.max() <= 1.5, (found, mirrored)
        elif before["shape_type"] == "rectangle":
            assert sorted(found[:, 0]) == sorted(mirrored[:, 0]) and sorted(found[:, 1]) == sorted(mirrored[:, 1])
        else:
            assert np.allclose(found, mirrored), (before["shape_type"], found, mirrored)
    background = json.loads((out / "train/shot_003__aug001.json").read_text())
    assert background["shapes"] == [] and background["imagePath"] == "shot_003__aug001.png"
    assert not (out / "train/shot_003.json").exists()  # an original without a JSON stays without one
    assert (out / "train/shot_001.json").read_bytes() == (src / "train/shot_001.json").read_bytes()
    assert runner_verify(out) == 0


def test_kitti_boxes_follow_the_pixels_and_their_3d_values_become_unknown(tmp_path: Path) -> None:
    import zoo

    src = zoo.kitti_detection(tmp_path / "src")
    flip = pipeline_file(tmp_path / "flip.json", {"__class_fullname__": "HorizontalFlip", "p": 1.0})
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1, pipeline=str(flip))

    assert (out / "training/label_2/000030_11__aug001.txt").read_text() == (
        "Van 0.0 1 -10 4.00 4.00 6.00 6.00 -1 -1 -1 -1000 -1000 -1000 -10\n"  # 4..6 of 10 px mirrors onto itself
        "Van 0.0 0 -10 3.00 6.00 4.00 9.00 -1 -1 -1 -1000 -1000 -1000 -10\n"  # 6..7 becomes 3..4
    )
    for name in ("training/label_2/000030_11.txt", "testing/image_2/000001_10.png"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    assert not (out / "testing/image_2/000001_10__aug001.png").exists()
    assert runner_verify(out) == 0


def test_pose_keypoints_mirror_as_ultralytics_flips_them(tmp_path: Path) -> None:
    """A flip takes a keypoint's x to width - x (Ultralytics' own flip: 1 - x, normalised), not width - 1 - x
    (albumentations' pixel centres), and swaps the points flip_idx pairs."""
    import roundtrip

    src = roundtrip.write_poses(tmp_path / "src")
    flip = pipeline_file(tmp_path / "flip.json", {"__class_fullname__": "HorizontalFlip", "p": 1.0})
    out = tmp_path / "out"
    assert expand(src, out, per_image=1, workers=1, pipeline=str(flip)).exit_code == 0
    first = (out / "labels/train/r__aug001.txt").read_text().splitlines()[0].split()
    points = [(float(first[k]) * 80, float(first[k + 1]) * 60, int(first[k + 2])) for k in range(5, 14, 3)]
    # source (20.5, 15.25), (40.0, 16.0), (30.25, 35.5): mirrored in an 80 px image, 0 and 1 swapped
    assert [(round(x, 3), round(y, 3), v) for x, y, v in points] == [
        (40.0, 16.0, 2),
        (59.5, 15.25, 2),
        (49.75, 35.5, 1),
    ]
