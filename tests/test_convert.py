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


@pytest.mark.parametrize("outlines", [False, True], ids=["boxes", "polygons"])
def test_every_pair_of_formats_gives_the_labels_back_within_half_a_pixel(tmp_path: Path, outlines: bool) -> None:
    """A -> B -> A for every pair of formats that hold the same things: boxes in all nine, polygons in the five
    that hold them (docs/labels.md prints this table: python tests/roundtrip.py)."""
    gaps = roundtrip.table(tmp_path, outlines)
    formats = roundtrip.OUTLINED if outlines else roundtrip.TARGETS
    assert len(gaps) == len(formats) * (len(formats) - 1)
    assert max(gaps.values()) <= 0.5, {pair: g for pair, g in gaps.items() if g > 0.5}
    if not outlines:  # VOC's whole pixels: 10.3 -> 10, 5.6 -> 6, 30.7 -> 31; every other pair is exact
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
    assert "--to voc: keypoints and points are not converted; a point or line is written as the box around it" in (
        result.stdout
    )


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
