"""Labelled datasets: boxes and masks move with the pixels, in YOLO, COCO, Pascal VOC and mask folders.

The datasets are drawn (tests/labelled_data.py): a bright rectangle on a plain dark background, so
where each object is in a copy can be measured from its pixels and compared with its label.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from labelled_data import (
    MULTI,
    NAMES,
    SCENES,
    iou,
    measured_box,
    output_boxes,
    write_coco,
    write_masks,
    write_voc,
    write_yolo,
)

from expander import expand
from expander.errors import PlanError
from expander.pipeline import PRESETS
from expander.scan import scan

WRITERS = {"yolo": write_yolo, "coco": write_coco, "voc": write_voc, "masks": write_masks}
# The least IoU between a copy's label box and the object measured in its pixels, over 6 copies of 4 images.
# Measured: 0.835-0.93 at the worst for every preset but strong, whose cut-out holes can cover part of an
# object (the label keeps the object's whole extent, as detection labels do): 0.72 there.
MIN_IOU = {"strong": 0.7}
DEFAULT_MIN_IOU = 0.8


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def digest(root: Path) -> dict[str, str]:
    """Every file but the run summary (timings) and the lock."""
    skip = ("expander.json", ".expander.lock")
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_scan_detects_the_format_and_reads_every_object(tmp_path: Path, fmt: str) -> None:
    dataset = scan(WRITERS[fmt](tmp_path / "src"))
    assert dataset.labels is not None and dataset.labels.format == fmt
    expected_names = ("object",) if fmt == "masks" else NAMES
    assert dataset.classes == expected_names
    assert [Path(i.rel_path).stem for i in dataset.items] == list(SCENES)
    assert [i.objects.count for i in dataset.items] == [1, 1, 1, 1]
    if fmt != "masks":
        assert [i.objects.classes for i in dataset.items] == [(0,), (1,), (2,), (0,)]


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])  # masks have no boxes of their own: see the next test
def test_boxes_follow_the_pixels_for_every_preset(tmp_path: Path, fmt: str, preset: str) -> None:
    src = WRITERS[fmt](tmp_path / "src")
    out = tmp_path / "out"
    result = expand(src, out, per_image=6, preset=preset, workers=1)
    assert result.status == "complete" and result.exit_code == 0
    copies = [r for r in rows(out) if r["copy"] != "original"]
    assert len(copies) == 24 and {r["status"] for r in copies} == {"ok"}
    measured = 0
    for row in copies:
        image = cv2.imread(str(out / row["output"]))
        region = measured_box(image)
        boxes = output_boxes(out, fmt, row["output"], image.shape[:2])
        assert boxes, f"{row['output']} lost its object"
        if region is None:  # Solarize can make the object the background's colour: nothing to measure
            continue
        measured += 1
        best = max(iou(region, b) for b in boxes)
        assert best >= MIN_IOU.get(preset, DEFAULT_MIN_IOU), (row["output"], region, boxes)
    assert measured >= 20


@pytest.mark.parametrize("preset", ["keras", "traditional", "strong"])
def test_masks_stay_aligned_with_the_object_pixel_for_pixel(tmp_path: Path, preset: str) -> None:
    src = write_masks(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=6, preset=preset, workers=1)
    for row in rows(out):
        image = cv2.imread(str(out / row["output"]))
        mask = cv2.imread(str(out / row["labels"]), cv2.IMREAD_UNCHANGED)
        assert mask.shape == image.shape[:2] and mask.dtype == np.uint8
        # ids survive (nearest-neighbour, no blending): the object keeps id 1; a mirror image that a reflecting
        # border brings in is an instance of its own, id 2
        assert 1 in mask and set(np.unique(mask).tolist()) <= {0, 1, 2}
        bright = np.abs(image.astype(int) - image[mask == 0].mean(axis=0)).max(axis=-1) > 80
        visible = image.any(axis=-1)  # strong's cut-out holes are black: they hide the object, not move it
        overlap = (bright & (mask > 0) & visible).sum() / ((bright | (mask > 0)) & visible).sum()
        assert overlap >= 0.85, (row["output"], overlap)  # edges are interpolated in the image, not the mask


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_per_image_zero_writes_the_input_labels_unchanged(tmp_path: Path, fmt: str) -> None:
    src = WRITERS[fmt](tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=0)
    source_files = digest(src)
    written = digest(out)
    if fmt == "coco":
        original = json.loads((src / "train/_annotations.coco.json").read_text())
        copy = json.loads((out / "train/_annotations.coco.json").read_text())
        assert copy == original
        source_files.pop("train/_annotations.coco.json")
    for name, sha in source_files.items():
        if name == "data.yaml":
            continue  # rewritten with paths into the output (checked below)
        assert written[name] == sha, name
    if fmt == "yolo":
        assert (out / "data.yaml").read_text() == ("train: train/images\nnc: 3\nnames:\n- cat\n- dog\n- fox\n")


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_labelled_outputs_are_byte_identical_for_any_worker_count(tmp_path: Path, fmt: str) -> None:
    src = WRITERS[fmt](tmp_path / "src")
    expand(src, tmp_path / "one", per_image=3, workers=1, preset="strong")
    expand(src, tmp_path / "two", per_image=3, workers=2, preset="strong")
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    for row in rows(tmp_path / "one"):
        assert row["status"] == "ok" and row["labels"] and row["objects"] in ("0", "1", "2")
        assert hashlib.sha256((tmp_path / "one" / row["labels"]).read_bytes()).hexdigest() == row["labels_sha256"]


def test_coco_output_loads_in_pycocotools_with_segmentation_and_keypoints_moved(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    src = write_coco(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=2, preset="keras")
    coco = COCO(str(out / "train/_annotations.coco.json"))
    assert len(coco.dataset["images"]) == 12 and len(coco.dataset["annotations"]) == 12
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(NAMES)
    assert len({i["id"] for i in coco.dataset["images"]}) == 12  # new ids never reuse an original's
    for image in coco.dataset["images"]:
        (annotation,) = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert isinstance(annotation["segmentation"], dict) == image["file_name"].startswith("b")  # RLE stays RLE
        mask = coco.annToMask(annotation)
        assert mask.shape == (image["height"], image["width"]) and mask.sum() == annotation["area"]
        x, y, w, h = cv2.boundingRect(cv2.findNonZero(mask))
        assert annotation["bbox"] == [x, y, w, h]
        centre = annotation["keypoints"][:3]  # the first keypoint is the object's centre: still inside it
        assert centre[2] == 2 and mask[int(centre[1]), int(centre[0])] == 1
        assert annotation["num_keypoints"] == sum(1 for v in annotation["keypoints"][2::3] if v)


def test_voc_copies_keep_other_elements_and_list_the_split(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    src = write_voc(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=1)
    assert (out / "ImageSets/Main/train.txt").read_text() == "a\na__aug001\nb\nb__aug001\nc\nc__aug001\nd\nd__aug001\n"
    root = ET.parse(out / "Annotations/a__aug001.xml").getroot()
    assert root.findtext("filename") == "a__aug001.png"
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("97", "73")
    (obj,) = root.iter("object")
    assert obj.findtext("name") == "cat" and obj.findtext("difficult") == "0"


def test_object_class_balance_raises_the_rare_classes_and_reports_the_common_ones(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src", MULTI)
    result = expand(src, tmp_path / "out", balance=True, dry_run=True)
    plan = {r["class"]: (r["originals"], r["new"], r["total"], r["unit"]) for r in result.to_dict()["plan"]}
    # Before: cat 4, dog 1, fox 1. dog lives only in m1 (2 cats + 1 dog), fox only in m2 (1 cat + 1 fox):
    # 3 copies of each bring them to 4, and carry 9 more cats. The last row counts the image files to write.
    assert plan == {"cat": (4, 9, 13, "objects"), "dog": (1, 3, 4, "objects"), "fox": (1, 3, 4, "objects"),
                    "image files": (4, 6, 10, "files")}  # fmt: skip
    copies = {Path(j.source).stem: j.copies for j in result.plan.jobs}
    assert copies == {"m1": 3, "m2": 3, "m3": 0, "m4": 0}


def test_target_per_class_prefers_the_purest_images(tmp_path: Path) -> None:
    scenes = {"mixed": (64, 64, [(1, 0, 0, 8, 8), (0, 10, 10, 20, 20), (0, 30, 30, 40, 40)]),
              "pure": (64, 64, [(1, 0, 0, 8, 8)]), "cats": (64, 64, [(0, 0, 0, 8, 8)])}  # fmt: skip
    result = expand(
        write_yolo(tmp_path / "src", scenes), tmp_path / "out", target_per_class=4, classes=["dog"], dry_run=True
    )
    copies = {Path(j.source).stem: j.copies for j in result.plan.jobs}
    assert copies == {"mixed": 1, "pure": 1, "cats": 0}  # round-robin, the pure image first


def test_classes_augments_only_images_holding_those_objects(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src", MULTI)
    result = expand(src, tmp_path / "out", per_image=2, classes=["fox"], workers=1)
    copied = sorted(r["source"] for r in rows(tmp_path / "out") if r["copy"] != "original")
    assert copied == ["train/images/m2.png"] * 2
    assert result.exit_code == 0
    with pytest.raises(PlanError, match=r"Unknown class 'wolf'.*Classes found: cat, dog, fox"):
        expand(src, tmp_path / "other", per_image=1, classes=["wolf"])


def test_background_images_are_kept_and_copied(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src", MULTI)
    (src / "train/labels/m4.txt").unlink()  # a background image without a label file
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1)
    assert not (out / "train/labels/m4.txt").exists()  # the original stays without one
    assert (out / "train/labels/m4__aug001.txt").read_text() == ""  # its copy says so explicitly
    assert (out / "train/images/m4__aug001.png").is_file()


def test_degenerate_boxes_are_reported_and_left_out_of_copies(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src", {"a": SCENES["a"]})
    (src / "train/labels/a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0 0.1\n1 1.005 0.5 0.005 0.1\n")
    out = tmp_path / "out"
    result = expand(src, out, per_image=1, workers=1)
    assert result.exit_code == 0
    assert result.to_dict()["labels"]["problems"] == [
        "train/labels/a.txt line 2: zero-size box",
        "train/labels/a.txt line 3: box outside the image",
    ]
    assert result.to_dict()["labels"]["skipped"] == []
    assert len((out / "train/labels/a__aug001.txt").read_text().splitlines()) == 1
    assert (out / "train/labels/a.txt").read_bytes() == (src / "train/labels/a.txt").read_bytes()  # the original as is


def test_a_class_id_equal_to_the_class_count_is_refused_naming_the_line(tmp_path: Path) -> None:
    """Three names, ids 0-2: id 3 (one past the last, the classic off-by-one of a converter) is refused."""
    from expander.errors import LayoutError

    src = write_yolo(tmp_path / "src", {"a": SCENES["a"]})
    (src / "train/labels/a.txt").write_text("2 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.1 0.1\n")
    with pytest.raises(LayoutError) as refused:
        expand(src, tmp_path / "out", per_image=1, workers=1)
    assert str(refused.value).splitlines()[:2] == [
        f"1 label line(s) or entries in '{src}' cannot be read as yolo:",
        "  train/labels/a.txt line 2: class id 3 is not in the YAML's names (0-2)",
    ]
    assert not (tmp_path / "out").exists()


def test_a_line_that_cannot_be_read_stops_the_run_before_writing_unless_skipped(tmp_path: Path) -> None:
    from expander.errors import LayoutError

    src = write_yolo(tmp_path / "src", {"a": SCENES["a"], "b": SCENES["b"]})
    (src / "train/labels/a.txt").write_text("0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.1 0.1\nnot a box\n0 0.5 0.5\n")
    out = tmp_path / "out"
    with pytest.raises(LayoutError) as refused:
        expand(src, out, per_image=1, workers=1)
    assert str(refused.value).splitlines()[1:4] == [
        "  train/labels/a.txt line 2: class id 9 is not in the YAML's names (0-2)",
        "  train/labels/a.txt line 3: not numbers ('not a box')",
        "  train/labels/a.txt line 4: 3 values; a detection line is 'class cx cy w h'",
    ]
    assert "pass --skip-bad-labels" in str(refused.value) and not out.exists()

    result = expand(src, out, per_image=1, workers=1, skip_bad_labels=True)
    assert result.exit_code == 0 and len(result.to_dict()["labels"]["skipped"]) == 3
    assert (out / "train/labels/a__aug001.txt").read_text().count("\n") == 1  # the one readable line
    assert result.to_dict()["totals"]["written"] == 4


def test_a_segmentation_line_in_a_detection_set_is_named(tmp_path: Path) -> None:
    from expander.errors import LayoutError

    src = write_yolo(tmp_path / "src", {"a": SCENES["a"]})
    (src / "train/labels/a.txt").write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n")
    with pytest.raises(LayoutError, match=r"a\.txt line 1: 7 values: a segmentation polygon \(--labels yolo-segment"):
        expand(src, tmp_path / "out", per_image=1, labels="yolo")  # stated as detection: one polygon is an error
    dataset = scan(src)  # detected: a line of more than 6 values makes it a segmentation set (Ultralytics' rule)
    assert dataset.labels.format == "yolo-segment" and dataset.items[0].objects.count == 1


def test_a_copy_that_loses_every_object_is_recorded_not_written(tmp_path: Path) -> None:
    pipeline = tmp_path / "away.yaml"  # shifts every image by its whole width: every box leaves
    pipeline.write_text(
        "__class_fullname__: Compose\ntransforms:\n- __class_fullname__: Affine\n"
        "  translate_percent: {x: [1.0, 1.0], y: [0.0, 0.0]}\n  p: 1.0\n"
    )
    src = write_voc(tmp_path / "src")
    out = tmp_path / "out"
    result = expand(src, out, per_image=1, pipeline=pipeline, workers=1)
    empty = [r for r in rows(out) if r["status"] == "empty"]
    assert len(empty) == 4 and result.exit_code == 0
    assert empty[0]["error"] == "all 1 objects left the image (--keep-empty writes it)"
    assert not (out / "JPEGImages/a__aug001.png").exists() and not (out / "Annotations/a__aug001.xml").exists()
    assert result.to_dict()["totals"]["empty_copies"] == 4

    kept = tmp_path / "kept"
    expand(src, kept, per_image=1, pipeline=pipeline, workers=1, keep_empty=True)
    assert (kept / "JPEGImages/a__aug001.png").is_file()
    assert "<object>" not in (kept / "Annotations/a__aug001.xml").read_text()


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_resume_rewrites_what_is_missing_and_matches_an_uninterrupted_run(tmp_path: Path, fmt: str) -> None:
    src = WRITERS[fmt](tmp_path / "src")
    reference, out = tmp_path / "reference", tmp_path / "out"
    expand(src, reference, per_image=2, workers=1)
    expand(src, out, per_image=2, workers=1)
    lost = [r for r in rows(out) if r["copy"] == "2"]
    for row in lost:  # as if the run had been killed before these
        (out / row["output"]).unlink()
        (out / row["labels"]).unlink()
    result = expand(src, out, per_image=2, workers=2, resume=True)
    assert result.resumed == 8 and result.status == "complete"
    assert digest(out) == digest(reference)
    summary = json.loads((reference / "expander.json").read_text())
    assert result.to_dict()["labels"]["objects_written"] == summary["labels"]["objects_written"] == 12


def test_overwrite_removes_the_previous_labels_too(tmp_path: Path) -> None:
    src = write_coco(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=2, workers=1)
    expand(src, out, per_image=1, workers=1, overwrite=True)
    assert len(list((out / ".coco/train").iterdir())) == 8
    assert len(json.loads((out / "train/_annotations.coco.json").read_text())["images"]) == 8


def test_size_scales_the_labels_of_originals_and_copies(tmp_path: Path) -> None:
    src = write_voc(tmp_path / "src", {"a": SCENES["a"]})
    out = tmp_path / "out"
    expand(src, out, per_image=1, size="194x146", preset="noise", workers=1)  # twice the size, no geometry
    for name in ("a", "a__aug001"):
        boxes = output_boxes(out, "voc", f"JPEGImages/{name}.png", (146, 194))
        assert boxes == [(72.0, 52.0, 124.0, 96.0)]


def test_labels_none_reads_class_folders(tmp_path: Path) -> None:
    src = write_yolo(tmp_path / "src", MULTI)
    shutil.rmtree(src / "train/labels")
    (src / "data.yaml").unlink()
    assert scan(src).labels is None
    dataset = scan(write_masks(tmp_path / "masks"), labels=None)
    assert dataset.labels is None and dataset.classes == ("images", "masks")


def test_verify_checks_labels_and_replays_them(tmp_path: Path) -> None:
    from expander.verify import verify

    src = write_coco(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=2, workers=1)
    result = verify(out, replay=12)
    assert result["ok"] and result["checked"] == 12 and len(result["replayed"]) == 12 and result["labels"] == []

    fragment = out / ".coco/train/a__aug001.png.json"
    data = json.loads(fragment.read_text())
    data["annotations"][0]["bbox"] = [90.0, 60.0, 30.0, 30.0]  # hand-edited: now outside a 97x73 image
    fragment.write_text(json.dumps(data))
    result = verify(out, replay=0)
    assert not result["ok"]
    assert result["labels"] == [
        {
            "file": "train/a__aug001.png",
            "reason": "its label file .coco/train/a__aug001.png.json's SHA-256 differs from the manifest",
        }
    ]
    (out / "train/_annotations.coco.json").unlink()
    assert verify(out)["missing"] == ["train/_annotations.coco.json"]


def test_verify_names_a_label_that_no_longer_fits_its_image(tmp_path: Path) -> None:
    from expander.verify import verify

    src = write_yolo(tmp_path / "src")
    out = tmp_path / "out"
    expand(src, out, per_image=1, workers=1)
    label = out / "train/labels/b__aug001.txt"
    label.write_text("7 0.5 0.5 0.2 0.2\n")
    rows_by_output = {r["output"]: r for r in rows(out)}
    manifest = (out / "manifest.csv").read_text()
    manifest = manifest.replace(rows_by_output["train/images/b__aug001.png"]["labels_sha256"], "")
    (out / "manifest.csv").write_text(manifest)  # as if its checksum were unknown: the parse must catch it
    result = verify(out)
    assert result["labels"] == [
        {"file": "train/images/b__aug001.png", "reason": "its label file line 1: class id 7 is outside 0-2"}
    ]


def test_inspect_counts_instances_and_finds_label_problems(tmp_path: Path) -> None:
    from expander.inspection import inspect_dataset

    src = write_yolo(tmp_path / "src", MULTI)
    (src / "train/labels/m3.txt").write_text("0 0.5 0.5 0 0.2\n5 0.5 0.5 0.1 0.1\n")
    (src / "train/labels/gone.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    labels = inspect_dataset(src)["labels"]
    assert labels["instances"] == {"train": {"cat": 3, "dog": 1, "fox": 1}}
    assert labels["images_without_objects"] == ["train/images/m3.png", "train/images/m4.png"]
    assert labels["labels_without_images"] == ["train/labels/gone.txt"]
    assert labels["degenerate_boxes"] == ["train/labels/m3.txt line 1: zero-size box"]
    assert labels["unknown_classes"] == ["train/labels/m3.txt line 2: class id 5 is not in the YAML's names (0-2)"]
    assert labels["unreadable_labels"] == labels["unknown_classes"]


def test_preview_draws_the_moved_boxes(tmp_path: Path) -> None:
    from expander.pipeline import resolve_pipeline
    from expander.preview import preview

    src = write_voc(tmp_path / "src")
    sheet = preview(src, tmp_path / "sheet.png", resolve_pipeline("keras", None, None), label="keras", copies=2,
                    per_class=1, cell=128)  # fmt: skip
    image = cv2.imread(str(sheet))
    assert image.shape == (28 + 3 * (128 + 20), 3 * 128, 3)  # a row per object class (and caption), original + 2 copies
    # the box outline is drawn in the class's colour around each object, in every tile
    cat_row = image[28:156]
    assert (np.abs(cat_row.astype(int) - (75, 25, 230)).max(axis=-1) < 40).sum() > 50  # BGR of the cat colour


def test_cli_expands_a_labelled_dataset_and_reports_objects(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from expander.cli import app

    src = write_voc(tmp_path / "src")
    out = tmp_path / "out"
    arguments = ["expand", str(src), "-o", str(out), "--per-image", "2", "--labels", "voc", "-j", "1"]
    result = CliRunner().invoke(app, [*arguments, "--min-visibility", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["labels"]["format"] == "voc" and summary["labels"]["files"] == ["ImageSets/Main/train.txt"]
    assert summary["labels"]["objects_in_copies_sources"] == 8 and summary["labels"]["objects_written"] >= 4 + 1
    assert summary["arguments"]["min_visibility"] == 0.5
    assert [r["unit"] for r in summary["plan"]] == ["objects"] * 3 + ["files"]
    wrong = CliRunner().invoke(app, ["expand", str(src), "-o", str(tmp_path / "x"), "--labels", "coco"])
    assert wrong.exit_code == 2 and "No labelled images found" in wrong.output and "as coco" in wrong.output


def ultralytics_label_path(image: str) -> str:
    """Ultralytics' own rule (ultralytics/data/utils.py, img2label_paths), copied to read the output as it would."""
    sa, sb = "/images/", "/labels/"
    return sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


@pytest.mark.parametrize("layout", ["roboflow", "ultralytics"])
def test_yolo_output_is_read_by_ultralytics_rules(tmp_path: Path, layout: str) -> None:
    import yaml

    src = write_yolo(tmp_path / "src")
    if layout == "ultralytics":  # images/train + labels/train instead of train/images + train/labels
        for kind in ("images", "labels"):
            (src / kind).mkdir()
            (src / "train" / kind).rename(src / kind / "train")
        (src / "train").rmdir()
    out = tmp_path / "out"
    expand(src, out, per_image=2, workers=1)
    config = yaml.safe_load((out / "data.yaml").read_text())
    train = out / config["train"]  # Ultralytics resolves split paths against the yaml's folder
    assert config["train"] == ("train/images" if layout == "roboflow" else "images/train")
    images = sorted(p for p in train.iterdir())
    assert len(images) == 12 and config["nc"] == 3 and config["names"] == list(NAMES)
    for image in images:
        label = Path(ultralytics_label_path(str(image)))
        for line in label.read_text().splitlines():  # Ultralytics' checks: 5 columns, normalised, known class
            values = [float(v) for v in line.split()]
            assert len(values) == 5 and 0 <= values[0] < config["nc"] and all(0 <= v <= 1 for v in values[1:])


def test_a_broken_annotation_file_is_named(tmp_path: Path) -> None:
    from expander.errors import LayoutError

    src = write_coco(tmp_path / "src")
    (src / "train/_annotations.coco.json").write_text('{"images": [')
    with pytest.raises(LayoutError, match=r"Cannot read annotation file '.*_annotations.coco.json': Expecting value"):
        expand(src, tmp_path / "out", per_image=1)
    with pytest.raises(LayoutError, match="Found 4 image"):  # --labels none: read as class folders, which it is not
        scan(src, labels=None)


def test_a_box_overhanging_its_image_by_under_a_pixel_is_valid_for_reading_and_verify(tmp_path: Path) -> None:
    """Roboflow's COCO exports end boxes up to 0.5 px past the image's edge: read as fine, copied, verified."""
    from expander.verify import verify

    src = write_coco(tmp_path / "src")
    json_path = src / "train" / "_annotations.coco.json"
    data = json.loads(json_path.read_text())
    image = data["images"][0]
    annotation = next(a for a in data["annotations"] if a["image_id"] == image["id"])
    x, y, _, h = annotation["bbox"]
    annotation["bbox"] = [x, y, image["width"] - x + 0.5, h]  # 0.5 px past the right edge
    json_path.write_text(json.dumps(data))
    out = tmp_path / "out"

    summary = expand(src, out, per_image=1, workers=1).summary

    assert summary["labels"]["problems"] == []
    result = verify(out, replay=2)
    assert result["ok"] is True, result
