"""Formats whose labels sit in list files (CreateML, CSV box lists, CVAT for images, Label Studio): each copy's
objects follow its pixels, exactly where a flip puts them; the list files keep what the source had and list the
copies; a list whose images were all copied unchanged is the source's byte for byte; what cannot be read is
named, never dropped."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zoo
from labelled_data import pipeline_file
from typer.testing import CliRunner

from expander import expand
from expander.cli import app

runner = CliRunner()
FLIP = {"__class_fullname__": "HorizontalFlip", "p": 1.0}


def flipped(tmp_path: Path, src: Path) -> Path:
    out = tmp_path / "out"
    result = expand(src, out, per_image=1, workers=1, pipeline=str(pipeline_file(tmp_path / "flip.json", FLIP)))
    assert result.exit_code == 0
    assert runner.invoke(app, ["verify", str(out), "--replay", "2"]).exit_code == 0
    return out


def test_createml_centres_are_read_as_centres_and_mirrored(tmp_path: Path) -> None:
    src = zoo.roboflow_createml(tmp_path / "src")
    out = flipped(tmp_path, src)

    train = json.loads((out / "train/_annotations.createml.json").read_text())
    assert [e["image"] for e in train] == ["train_001.jpg", "train_001__aug001.jpg", "train_002.jpg",
                                           "train_002__aug001.jpg"]  # fmt: skip
    # x, y is the centre: the box spans 0.5..3.5 of a 10 px image; mirrored, 6.5..9.5, centred on 8
    assert train[1]["annotations"] == [
        {"label": "label_0", "coordinates": {"x": 8.0, "y": 1.0, "width": 3.0, "height": 1.0}}
    ]
    assert train[0] == json.loads((src / "train/_annotations.createml.json").read_text())[0]
    val = "val/_annotations.createml.json"
    assert (out / val).read_bytes() == (src / val).read_bytes()


def test_csv_rows_list_each_copy_after_its_source_with_mirrored_boxes(tmp_path: Path) -> None:
    src = zoo.raccoon_csv(tmp_path / "src")
    out = flipped(tmp_path, src)

    with open(out / "data/train_labels.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"],
        ["raccoon-1.jpg", "650", "417", "raccoon", "81", "88", "522", "408"],
        ["raccoon-1__aug001.jpg", "650", "417", "raccoon", "128", "88", "569", "408"],
        ["raccoon-2.jpg", "800", "573", "raccoon", "60", "51", "462", "499"],
        ["raccoon-2__aug001.jpg", "800", "573", "raccoon", "338", "51", "740", "499"],
    ]
    assert (out / "data/test_labels.csv").read_bytes() == (src / "data/test_labels.csv").read_bytes()
    assert not (out / "images/raccoon-3__aug001.jpg").exists()  # listed in test_labels.csv: the test split


def test_csv_that_lists_an_image_twice_is_refused_naming_both_files(tmp_path: Path) -> None:
    src = zoo.raccoon_csv(tmp_path / "src")
    data = src / "data"  # as the raccoon set has it: raccoon_labels.csv is the train and test lists together
    (data / "raccoon_labels.csv").write_text((data / "train_labels.csv").read_text()
                                             + (data / "test_labels.csv").read_text().split("\n", 1)[1])  # fmt: skip
    result = runner.invoke(app, ["expand", str(src), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "cannot be read as csv" in result.stderr
    assert "data/test_labels.csv: 'raccoon-3.jpg' is listed again (also in data/raccoon_labels.csv)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cvat_shapes_mirror_keep_their_attributes_and_copies_get_new_ids(tmp_path: Path) -> None:
    src = zoo.cvat_project(tmp_path / "src")
    out = flipped(tmp_path, src)

    root = ET.parse(out / "annotations.xml").getroot()
    assert root.findtext("version") == "1.1" and root.find("meta/project/id").text == "3"
    images = [(i.get("subset"), i.get("name"), i.get("id")) for i in root.iter("image")]
    assert images == [("Test", "img0.jpg", "0"), ("Test", "img1.jpg", "1"), ("Train", "img0.jpg", "0"),
                      ("Train", "img0__aug001.jpg", "2"), ("Train", "img1.jpg", "1"),
                      ("Train", "img1__aug001.jpg", "3"), ("Validation", "img0.jpg", "0"),
                      ("Validation", "img1.jpg", "1")]  # fmt: skip
    copy = next(i for i in root.iter("image") if i.get("name") == "img0__aug001.jpg")
    box = copy.find("box")
    assert {k: box.get(k) for k in ("label", "xtl", "ytl", "xbr", "ybr", "occluded", "z_order")} == {
        "label": "label1", "xtl": "4.00", "ytl": "2.00", "xbr": "8.00", "ybr": "4.00", "occluded": "1",
        "z_order": "1"}  # fmt: skip
    assert [(a.get("name"), a.text) for a in box.iter("attribute")] == [("a1", "true"), ("a2", "v3"), ("a3", "0003"),
                                                                        ("a4", "2.4")]  # fmt: skip
    # the polyline's points 1,2 3,4 5,6 7,8 of an 8 px image, mirrored: x -> 8 - x
    assert copy.find("polyline").get("points") == "7.00,2.00;5.00,4.00;3.00,6.00;1.00,8.00"
    assert not (out / "images/Test/img0__aug001.jpg").exists()


def test_a_cvat_shape_that_is_not_read_stops_the_run_unless_skipped(tmp_path: Path) -> None:
    src = zoo.cvat_images(tmp_path / "src")
    xml = (src / "train.xml").read_text()
    (src / "train.xml").write_text(xml.replace("  </image>\n", '    <mask label="label1" rle="1, 2" left="0" top="0" '
                                               'width="2" height="2" z_order="0"/>\n  </image>\n', 1))  # fmt: skip
    out = tmp_path / "out"
    refused = runner.invoke(app, ["expand", str(src), "-o", str(out)])
    assert refused.exit_code == 2
    assert "train.xml: image 'img0.jpg': <mask> shapes are not read (boxes, polygons, polylines and points are)" in (
        refused.stderr
    )
    assert not out.exists()
    skipped = runner.invoke(app, ["expand", str(src), "-o", str(out), "--skip-bad-labels", "-q"])
    assert skipped.exit_code == 0, skipped.output


def test_label_studio_reads_the_newest_annotation_and_keeps_the_others_on_the_original(tmp_path: Path) -> None:
    src = zoo.label_studio(tmp_path / "src")
    out = flipped(tmp_path, src)

    name = "project-1-at-2022-12-28-10-31-8f1c2a3b.json"
    source, tasks = json.loads((src / name).read_text()), json.loads((out / name).read_text())
    assert [t["data"]["image"] for t in tasks] == [
        "/data/upload/1/5d3f1a21-image1.jpg", "/data/upload/1/5d3f1a21-image1__aug001.jpg",
        "/data/upload/1/5d3f1a22-image2.jpg", "/data/upload/1/5d3f1a22-image2__aug001.jpg",
        "/data/upload/1/5d3f1a23-image3.jpg", "/data/upload/1/5d3f1a23-image3__aug001.jpg",
    ]  # fmt: skip
    assert tasks[0] == source[0]  # both annotators' annotations, as they were
    copy = tasks[1]
    assert "id" not in copy and "predictions" not in copy and copy["total_annotations"] == 1
    (annotation,) = copy["annotations"]
    assert annotation["completed_by"] == 1  # the newer of the two
    value = annotation["result"][0]["value"]
    # x 38% of 80 px = 30.4 px, width 14.19% = 11.352 px; mirrored, 80 - 41.752 = 38.248 px (38.25: 0.01 px)
    assert value["x"] == pytest.approx(100 * 38.25 / 80) and value["width"] == pytest.approx(100 * 11.35 / 80)
    assert value["y"] == pytest.approx(100 * 12.4 / 60) and value["rectanglelabels"] == ["parasites"]
    assert tasks[5]["annotations"] == []  # a task not annotated stays so


def test_label_studio_says_a_task_annotated_twice_was_read_from_one_annotation(tmp_path: Path) -> None:
    src = zoo.label_studio(tmp_path / "src")
    result = runner.invoke(app, ["expand", str(src), "-o", str(tmp_path / "out"), "--per-image", "1"])
    assert result.exit_code == 0, result.output
    assert ("Note: project-1-at-2022-12-28-10-31-8f1c2a3b.json: 1 task(s) annotated more than once, each read from "
            "one annotation (the ground truth, else the newest)") in result.stdout  # fmt: skip


def test_a_damaged_list_file_stops_the_run_naming_it(tmp_path: Path) -> None:
    """A truncated CVAT XML or Label Studio JSON, and a CreateML list none of whose entries can be read, stop
    the run before anything is written, naming the file (not reading the images as something else)."""
    cvat = zoo.cvat_images(tmp_path / "cvat")
    (cvat / "train.xml").write_text((cvat / "train.xml").read_text()[:300])
    studio = zoo.label_studio(tmp_path / "ls")
    export = next(studio.glob("*.json"))
    export.write_bytes(export.read_bytes()[:500])  # cut before the first task's data: only its results are seen
    createml = zoo.roboflow_createml(tmp_path / "cm")
    (createml / "train/_annotations.createml.json").write_text('[{"image": 5, "annotations": []}]')
    for src, name, reason in (
        (cvat, "cvat list file", "TextFileError: not well-formed XML"),
        (studio, "labelstudio list file", "TextFileError: Unterminated string"),
        (createml, "createml list file", "ValueError: no entry can be read (train/_annotations.createml.json: entry 1 "
                                         "names no image)"),
    ):  # fmt: skip
        result = runner.invoke(app, ["expand", str(src), "-o", str(tmp_path / "out")])
        assert result.exit_code == 2
        assert result.stderr.startswith(f"Error: Cannot read {name} '{src}/")
        assert reason in result.stderr
        assert not (tmp_path / "out").exists()
