"""Expand and convert in one pass (--to, issue 41 item 4): every pair of formats that can hold the same things
gives the labels back within half a pixel after A -> B -> A; what a target cannot hold is said before the run;
converted outputs verify and replay byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import roundtrip
import zoo
from labelled_data import pipeline_file, write_yolo
from typer.testing import CliRunner

from expander import expand
from expander.cli import app
from expander.scan import scan

runner = CliRunner()


@pytest.mark.parametrize("kind", ["boxes", "outlines", "keypoints"])
def test_every_pair_of_formats_gives_the_labels_back_within_half_a_pixel(tmp_path: Path, kind: str) -> None:
    """A -> B -> A for every pair of formats that hold the same things: boxes in all nine, polygons in the five
    that hold them, pose keypoints in COCO and YOLO pose (docs/labels.md prints these tables: python
    tests/roundtrip.py)."""
    gaps = roundtrip.table(tmp_path, kind)
    formats = {"boxes": roundtrip.TARGETS, "outlines": roundtrip.OUTLINED, "keypoints": roundtrip.POSED}[kind]
    assert len(gaps) == len(formats) * (len(formats) - 1)
    assert max(gaps.values()) <= 0.5, {pair: g for pair, g in gaps.items() if g > 0.5}
    if kind == "boxes":  # VOC's whole pixels: 10.3 -> 10, 5.6 -> 6, 30.7 -> 31; every other pair is exact
        assert max(g for (a, b), g in gaps.items() if "voc" in (a, b)) == pytest.approx(0.4)
        assert max(g for (a, b), g in gaps.items() if "voc" not in (a, b)) < 0.01


def test_a_converted_run_verifies_and_replays_its_copies(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src")
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(src), "-o", str(out), "--per-image", "2", "--to", "coco", "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "annotations").iterdir()) == ["instances_train.json"]
    assert not (out / "train/labels").exists() and not (out / "data.yaml").exists()  # the source's files: not kept
    assert (out / "train/images/a.png").read_bytes() == (src / "train/images/a.png").read_bytes()
    verified = runner.invoke(app, ["verify", str(out), "--replay", "4"])
    assert verified.exit_code == 0, verified.output
    assert "4 byte-identical" in verified.stdout
    assert scan(out).labels.format == "coco"


def test_a_converted_copy_holds_its_moved_boxes_in_the_new_format(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src")
    flip = pipeline_file(tmp_path / "flip.json", {"__class_fullname__": "HorizontalFlip", "p": 1.0})
    out = tmp_path / "out"
    assert expand(src, out, per_image=1, workers=1, pipeline=str(flip), to="coco").exit_code == 0
    data = json.loads((out / "annotations/instances_train.json").read_text())
    by_name = {i["file_name"]: i["id"] for i in data["images"]}
    boxes = {a["image_id"]: a["bbox"] for a in data["annotations"]}
    assert boxes[by_name["train/images/a.png"]] == [36.0, 26.0, 26.0, 22.0]  # a: 97 px wide, x 36..62
    assert boxes[by_name["train/images/a__aug001.png"]] == [35.0, 26.0, 26.0, 22.0]  # mirrored: 97 - 62 = 35
    assert data["categories"] == [{"id": 1, "name": "cat", "supercategory": "none"},
                                  {"id": 2, "name": "dog", "supercategory": "none"},
                                  {"id": 3, "name": "fox", "supercategory": "none"}]  # fmt: skip


def test_outlines_a_target_cannot_hold_are_said_before_the_run(tmp_path: Path) -> None:
    src = zoo.labelme_5(tmp_path / "src")
    result = runner.invoke(app, ["expand", str(src), "-o", str(tmp_path / "out"), "--per-image", "1", "--to", "voc"])
    assert result.exit_code == 0, result.output
    assert ("--to voc holds boxes only: the outlines (polygons, masks) of the objects of 2 image(s) are written as "
            "their boxes") in result.stdout  # fmt: skip
    assert "--to voc: point and line shapes are not converted as points; each is written as the box around it" in (
        result.stdout
    )


def test_pose_keypoints_convert_with_left_and_right_swapped_in_a_mirrored_copy(tmp_path: Path) -> None:
    """YOLO pose -> COCO: each keypoint where the flip puts it, keypoints 0 and 1 (flip_idx [1, 0, 2]) swapped in
    the mirrored copy, an unlabelled keypoint still 0, 0, 0; a target without keypoints says so; a boxes-only
    source cannot become YOLO pose."""
    src = roundtrip.write_poses(tmp_path / "src")
    flip = pipeline_file(tmp_path / "flip.json", {"__class_fullname__": "HorizontalFlip", "p": 1.0})
    out = tmp_path / "out"
    assert expand(src, out, per_image=1, workers=1, pipeline=str(flip), to="coco").exit_code == 0
    data = json.loads((out / "annotations/instances_train.json").read_text())
    assert data["categories"][0]["keypoints"] == ["keypoint_0", "keypoint_1", "keypoint_2"]
    ids = {i["file_name"]: i["id"] for i in data["images"]}
    points = {(a["image_id"], a["category_id"]): a["keypoints"] for a in data["annotations"]}
    assert points[ids["images/train/r.png"], 1] == [20.5, 15.25, 2, 40.0, 16.0, 2, 30.25, 35.5, 1]
    # 80 px wide: x -> 80 - x, and the left point is the right one now
    assert points[ids["images/train/r__aug001.png"], 1] == [40.0, 16.0, 2, 59.5, 15.25, 2, 49.75, 35.5, 1]
    assert points[ids["images/train/r__aug001.png"], 2] == [0, 0, 0, 25.0, 25.0, 2, 9.5, 50.0, 2]
    assert runner.invoke(app, ["verify", str(out), "--replay", "3"]).exit_code == 0

    boxes = runner.invoke(app, ["expand", str(src), "-o", str(tmp_path / "voc"), "--per-image", "0", "--to", "voc"])
    assert "--to voc holds no keypoints: the objects' boxes are written, their keypoints are not" in boxes.stdout
    refused = runner.invoke(app, ["expand", str(write_yolo(tmp_path / "boxes")), "-o", str(tmp_path / "pose"),
                                  "--to", "yolo-pose"])  # fmt: skip
    assert refused.exit_code == 2
    assert "--to yolo-pose writes pose keypoints, and the yolo labels of this dataset have none" in refused.stderr


def test_to_yolo_refuses_images_outside_an_images_folder_before_writing(tmp_path: Path) -> None:
    src = zoo.roboflow_createml(tmp_path / "src")
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(src), "-o", str(out), "--to", "yolo"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --to yolo: 3 image(s) are not in an images/ folder (e.g. "
                                    "'train/train_001.jpg')")  # fmt: skip
    assert not out.exists()


def test_to_needs_labels(tmp_path: Path) -> None:
    src = tmp_path / "src" / "cat"
    src.mkdir(parents=True)
    assert cv2.imwrite(str(src / "a.png"), np.zeros((8, 8, 3), np.uint8))
    result = runner.invoke(app, ["expand", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--to", "coco"])
    assert result.exit_code == 2
    assert "--to coco converts labels, and" in result.stderr and "was read as class folders" in result.stderr
